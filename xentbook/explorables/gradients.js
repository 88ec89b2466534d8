// Chapter 8's explorable: drag the logits, watch the gradient p - q (softmax minus the target distribution).
//
// compute() is the browser's twin of gradients.py's compute: it runs the backward pass of torch's
// F.cross_entropy(..., label_smoothing=eps) for one row the way autograd does on the CPU (nll_loss's backward,
// then log_softmax's: g - exp(log p) * sum(g)), every operation rounded to float32, and prints the same words.

import { op, sum } from "./formats.js";
import { bind, drawnWidth, element, fmt, frame, fromJson, kernelNote, live, numberControl, parseNumber, report, selectControl, show, svg } from "./ui.js";

const F = "float32";
const CLASSES = 3;
const FLOAT32_MAX = 3.4028234663852886e38;
export const INPUTS = ["z0", "z1", "z2", "target", "eps"];

function readInputs(inputs) {
  const logits = [];
  for (let k = 0; k < CLASSES; k++) {
    const p = parseNumber(inputs[`z${k}`], `the logit of class ${k}`, "2");
    if (p.problem) return { problem: p.problem, field: `z${k}` };
    if (Math.abs(p.value) > FLOAT32_MAX) {
      return {
        problem: `The logit of class ${k} would be ${fmt(p.value)}, past the largest float32 (${fmt(FLOAT32_MAX)}): type a smaller number.`,
        field: `z${k}`,
      };
    }
    logits.push(p.value);
  }
  if (![0, 1, 2].includes(inputs.target)) {
    return { problem: `The target class must be 0, 1 or 2, not ${inputs.target}.`, field: "target" };
  }
  const eps = parseNumber(inputs.eps, "label_smoothing", "0.1");
  if (eps.problem) return { problem: eps.problem, field: "eps" };
  if (!(eps.value >= 0 && eps.value <= 1)) {
    return { problem: `The label_smoothing must be between 0 and 1 (torch refuses anything else), not ${fmt(eps.value)}.`, field: "eps" };
  }
  return { logits, target: inputs.target, eps: eps.value };
}

function logSoftmaxRow(row) {
  const largest = Math.max(...row);
  const shifted = row.map((z) => op(F, z - largest));
  const logSum = op(F, Math.log(shifted.reduce((total, s) => op(F, total + op(F, Math.exp(s))), 0))); // left to right
  return shifted.map((s) => op(F, s - logSum));
}

const names = (classes) => (classes.length === 1
  ? `class ${classes[0]}`
  : `classes ${classes.slice(0, -1).join(", ")} and ${classes[classes.length - 1]}`);

function describe(grad, probs, q, target, eps, loss) {
  const raised = [];
  const lowered = [];
  const still = [];
  grad.forEach((g, k) => (g < 0 ? raised : g > 0 ? lowered : still).push(k));
  const parts = [];
  if (raised.length) parts.push(`raises the logit of ${names(raised)}`);
  if (lowered.length) parts.push(`lowers ${names(lowered)}`);
  if (still.length) parts.push(`leaves ${names(still)} where ${still.length === 1 ? "it is" : "they are"}`);
  const moves = parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
  let text = `The gradient p − q is [${grad.map((g) => fmt(g)).join(", ")}]: a descent step ${moves}, each in proportion.`;
  if (eps > 0 && grad[target] > 0) {
    text += ` With ε = ${fmt(eps)} the target's own entry is positive: p = ${fmt(probs[target])} is past the best ` +
      `confidence q = ${fmt(q[target])}, so descent lowers even the target's logit.`;
  } else if (eps > 0) {
    text += ` With ε = ${fmt(eps)} the target asks for q = ${fmt(q[target])}, not 1.`;
  }
  return `${text} The loss is ${fmt(loss)}.`;
}

export function gradients(inputs) {
  const read = readInputs(inputs);
  if (read.problem) return { ok: false, message: read.problem, field: read.field };
  const { target, eps } = read;
  const logits = read.logits.map((v) => op(F, v));
  const logProbs = logSoftmaxRow(logits);
  // Forward, as F.cross_entropy (LossNLL.cpp): nll, and with eps > 0 also (1 - eps) nll + (-sum log p) eps / C.
  const nll = op(F, 0 - logProbs[target]);
  let loss = nll;
  let upstream; // the gradient of the loss with respect to log p, as autograd accumulates it
  if (eps > 0) {
    const keep = op(F, 1 - eps);
    const spread = op(F, eps / CLASSES);
    loss = op(F, op(F, keep * nll) + op(F, op(F, -sum(F, logProbs)) * spread));
    upstream = logProbs.map((_, k) => (k === target ? op(F, -keep + -spread) : -spread));
  } else {
    upstream = logProbs.map((_, k) => (k === target ? -1 : 0));
  }
  // log_softmax's backward on the CPU: g - exp(log p) * sum(g).
  const total = sum(F, upstream);
  const grad = upstream.map((g, k) => op(F, g - op(F, op(F, Math.exp(logProbs[k])) * total)));
  const probs = logProbs.map((l) => op(F, Math.exp(l)));
  const q = [0, 1, 2].map((k) => op(F, k === target ? (1 - eps) + eps / CLASSES : eps / CLASSES));
  const message = describe(grad, probs, q, target, eps, loss);
  return { ok: true, message, target, eps, logits, probs, q, grad, loss };
}

// What the harness compares with torch (gradients.py's compute): the same keys, the same words.
export function compute(inputs) {
  const r = gradients(inputs);
  if (!r.ok) return { ok: false, message: r.message, format: F, values: {} };
  return { ok: true, message: r.message, format: F, values: { logits: r.logits, probs: r.probs, q: r.q, grad: r.grad, loss: r.loss } };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: for each class, three bars from a zero line: p (up), q (up) and the gradient p - q (up or down).

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "gradients", title: "Gradient explorer" });
  const logitControls = [0, 1, 2].map((k) =>
    numberControl(controls, { id, name: `z${k}`, label: `Logit of class ${k}`, min: -10, max: 10, step: 0.1, example: "2" }));
  const target = selectControl(controls, { id, name: "target", label: "Target class", options: [0, 1, 2].map((k) => [k, `class ${k}`]) });
  const eps = numberControl(controls, { id, name: "eps", label: "label_smoothing ε", min: 0, max: 1, step: 0.01, example: "0.1" });
  logitControls.forEach((c) => bind(model, c));
  bind(model, target, Number);
  bind(model, eps);

  const chart = element("div", { class: "xent-gradients-chart", role: "img" });
  figure.append(chart);

  function drawChart(r) {
    const width = drawnWidth(chart, 320);
    const zero = 95; // the y of 0; bars of height 1 reach 75 above it and 75 below
    const scale = 75;
    const height = zero + scale + 22; // the class names below the lowest bar, never under one
    const band = width / CLASSES;
    const bar = Math.min(22, (band - 16) / 3.4);
    const kinds = [["p", r.probs], ["q", r.q], ["grad", r.grad]];
    const parts = [svg("line", { class: "xent-axis", x1: 0, x2: width, y1: zero, y2: zero })];
    r.grad.forEach((_, k) => {
      const middle = k * band + band / 2;
      kinds.forEach(([kind, values], n) => {
        const v = Number.isFinite(values[k]) ? values[k] : 0;
        const x = middle + (n - 1.5) * bar * 1.2 + bar * 0.1;
        const y = v >= 0 ? zero - v * scale : zero;
        parts.push(svg("rect", { class: `xent-gradients-${kind}`, x, y, width: bar, height: Math.abs(v) * scale }));
      });
      parts.push(svg("text", { x: middle, y: height - 4, "text-anchor": "middle", text: k === r.target ? `class ${k} (target)` : `class ${k}` }));
    });
    chart.setAttribute("aria-label", `Per class, p, q and the gradient p − q: ${r.grad
      .map((g, k) => `class ${k} p ${fmt(r.probs[k])} q ${fmt(r.q[k])} gradient ${fmt(g)}`).join("; ")}`);
    chart.replaceChildren(
      element("div", { class: "xent-gradients-legend" }, [
        element("span", { class: "xent-gradients-key xent-gradients-p", text: "p = softmax" }),
        element("span", { class: "xent-gradients-key xent-gradients-q", text: "q (target)" }),
        element("span", { class: "xent-gradients-key xent-gradients-grad", text: "p − q (gradient)" }),
      ]),
      svg("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" }, parts),
    );
  }

  function inputs() {
    return Object.fromEntries(INPUTS.map((k) => [k, model.get(k)]));
  }

  function update() {
    const now = inputs();
    const r = gradients(now);
    logitControls.forEach((c) => show(c, now[c.name], !r.ok && r.field === c.name));
    show(target, now.target);
    show(eps, now.eps, !r.ok && r.field === "eps");
    report(root, message, now, r);
    if (r.ok) drawChart(r);
    kernelNote(kernel, model, now, (a) => `gradient [${a.values.grad.map((g) => fmt(fromJson(g))).join(", ")}], loss ${fmt(fromJson(a.values.loss))}.`);
  }

  return live(model, [...INPUTS, "kernel"], update, chart);
}

export default { render };
