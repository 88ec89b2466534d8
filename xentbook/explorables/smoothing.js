// Chapter 6's explorable: label smoothing moves q, the loss, its floor H(q) and the best confidence 1 - eps + eps/C.
//
// compute() is the browser's twin of smoothing.py's compute (torch's F.cross_entropy with label_smoothing): the
// same steps in torch's order, every operation rounded to float32, and the same words.

import { op, sum } from "./formats.js";
import { bind, drawnWidth, element, fmt, frame, fromJson, kernelNote, live, numberControl, parseNumber, report, selectControl, show, svg } from "./ui.js";

const F = "float32";
const CLASS_CHOICES = [2, 3, 4, 5, 6, 7]; // fewer than 8 classes: torch sums them in the same order on every CPU
export const INPUTS = ["eps", "classes", "confidence"];

function readInputs(inputs) {
  const eps = parseNumber(inputs.eps, "label_smoothing", "0.1");
  if (eps.problem) return { problem: eps.problem, field: "eps" };
  if (!(eps.value >= 0 && eps.value <= 1)) {
    return { problem: `The label_smoothing must be between 0 and 1 (torch refuses anything else), not ${fmt(eps.value)}.`, field: "eps" };
  }
  if (!CLASS_CHOICES.includes(inputs.classes)) {
    return { problem: `The number of classes must be a whole number from 2 to 7, not ${inputs.classes}.`, field: "classes" };
  }
  const confidence = parseNumber(inputs.confidence, "the confidence", "0.9");
  if (confidence.problem) return { problem: confidence.problem, field: "confidence" };
  if (!(confidence.value > 0 && confidence.value < 1)) {
    return {
      problem: `The confidence must be strictly between 0 and 1 (the other classes need some), not ${fmt(confidence.value)}.`,
      field: "confidence",
    };
  }
  return { eps: eps.value, classes: inputs.classes, confidence: confidence.value };
}

// torch's CPU log_softmax along a row, in its order: (z - max) - log(sum exp(z - max)); a row shorter than one
// vector register is summed left to right.
function logSoftmaxRow(row) {
  const largest = Math.max(...row);
  const shifted = row.map((z) => op(F, z - largest));
  const logSum = op(F, Math.log(shifted.reduce((total, s) => op(F, total + op(F, Math.exp(s))), 0)));
  return shifted.map((s) => op(F, s - logSum));
}

// F.cross_entropy(logits[None], [target], label_smoothing=eps) for one row, in torch's order (LossNLL.cpp):
// (1 - eps) * nll + (-(sum of log p)) * (eps / C), each scalar rounded to float32 first.
function smoothedLoss(logits, target, eps) {
  const logProbs = logSoftmaxRow(logits);
  const nll = op(F, 0 - logProbs[target]);
  if (!(eps > 0)) return { logProbs, loss: nll };
  const smooth = op(F, -sum(F, logProbs));
  const loss = op(F, op(F, op(F, 1 - eps) * nll) + op(F, smooth * op(F, eps / logits.length)));
  return { logProbs, loss };
}

function describe(eps, classes, confidence, best, other, loss, floor) {
  if (eps === 0) {
    return "No smoothing: q is one-hot, its floor H(q) is 0 and the best confidence is 1, so descent keeps " +
      `raising the target's logit. At p = ${fmt(confidence)} the loss is ${fmt(loss)}.`;
  }
  let where;
  if (confidence > best) {
    where = `past the best confidence ${fmt(best)}: the gradient p − q on the target's logit is positive, so ` +
      "descent lowers that logit";
  } else if (confidence < best) {
    where = `below the best confidence ${fmt(best)}: the gradient p − q on the target's logit is negative, so ` +
      "descent raises that logit";
  } else {
    where = `exactly the best confidence ${fmt(best)}: the gradient p − q is 0`;
  }
  return `ε = ${fmt(eps)} over ${classes} classes: q puts 1 − ε + ε/C = ${fmt(best)} on the target and ` +
    `ε/C = ${fmt(other)} on each other class. p = ${fmt(confidence)} is ${where}. The loss is ${fmt(loss)}; ` +
    `its floor, H(q), the loss of the best prediction p = q, is ${fmt(floor)}.`;
}

export function smoothing(inputs) {
  const read = readInputs(inputs);
  if (read.problem) return { ok: false, message: read.problem, field: read.field };
  const { eps, classes, confidence } = read;
  const rest = (1 - confidence) / (classes - 1);
  const best = (1 - eps) + eps / classes;
  const other = eps / classes;
  const target = classes - 1;
  const others = new Array(classes - 1);
  const logits = [...others.fill(op(F, Math.log(rest))), op(F, Math.log(confidence))];
  const { logProbs, loss } = smoothedLoss(logits, target, eps);
  const probs = logProbs.map((l) => op(F, Math.exp(l)));
  const q = [...new Array(classes - 1).fill(op(F, other)), op(F, best)];
  const bestLogits = [...new Array(classes - 1).fill(op(F, Math.log(other))), op(F, Math.log(best))];
  const floor = smoothedLoss(bestLogits, target, eps).loss;
  const message = describe(eps, classes, confidence, best, other, loss, floor);
  return { ok: true, message, eps, classes, confidence, target, logits, probs, q, loss, floor, best: op(F, best) };
}

// What the harness compares with torch (smoothing.py's compute): the same keys, the same words.
export function compute(inputs) {
  const r = smoothing(inputs);
  if (!r.ok) return { ok: false, message: r.message, format: F, values: {} };
  return {
    ok: true, message: r.message, format: F,
    values: { logits: r.logits, probs: r.probs, q: r.q, loss: r.loss, floor: r.floor, best: r.best },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: the loss of one row against the confidence p (a curve), with the reader's p and the best one marked,
// and p beside q as bars.

function curve(eps, classes, p) {
  // The exact smoothed loss at confidence p, the other classes sharing 1 - p: for drawing only.
  const qTarget = 1 - eps + eps / classes;
  const qOther = eps / classes;
  return -qTarget * Math.log(p) - (classes - 1) * qOther * Math.log((1 - p) / (classes - 1));
}

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "smoothing", title: "Label smoothing explorer" });
  const eps = numberControl(controls, { id, name: "eps", label: "label_smoothing ε", min: 0, max: 1, step: 0.01, example: "0.1" });
  const classes = selectControl(controls, {
    id, name: "classes", label: "Number of classes C", options: CLASS_CHOICES.map((c) => [c, String(c)]),
  });
  const confidence = numberControl(controls, {
    id, name: "confidence", label: "Model's p for the target", min: 0.01, max: 0.999, step: 0.001, example: "0.9",
  });
  bind(model, eps);
  bind(model, classes, Number);
  bind(model, confidence);

  const plot = element("div", { class: "xent-smoothing-plot", role: "img" });
  const bars = element("div", { class: "xent-smoothing-bars", role: "img" });
  const numbers = element("p", { class: "xent-smoothing-numbers" });
  figure.append(plot, bars, numbers);

  function drawPlot(r) {
    const width = drawnWidth(plot, 320);
    const height = 150;
    const left = 30;
    const bottom = 20;
    const top = Math.max(3, Math.ceil(r.loss)); // the loss axis reaches the reader's point, never clips it
    const x = (p) => left + p * (width - left - 5);
    const y = (v) => height - bottom - (Math.min(v, top) / top) * (height - bottom - 8);
    const points = [];
    for (let k = 1; k < 200; k++) {
      const p = k / 200;
      points.push(`${x(p).toFixed(1)},${y(curve(r.eps, r.classes, p)).toFixed(1)}`);
    }
    const best = 1 - r.eps + r.eps / r.classes;
    const parts = [
      svg("line", { class: "xent-axis", x1: left, x2: width, y1: height - bottom, y2: height - bottom }),
      svg("line", { class: "xent-axis", x1: left, x2: left, y1: 4, y2: height - bottom }),
      svg("text", { x: left - 4, y: 12, "text-anchor": "end", text: String(top) }),
      svg("text", { x: left - 4, y: height - bottom, "text-anchor": "end", text: "0" }),
      svg("text", { x: width, y: height - 4, "text-anchor": "end", text: "p for the target → 1" }),
      svg("polyline", { class: "xent-smoothing-curve", points: points.join(" ") }),
      svg("line", { class: "xent-smoothing-best", x1: x(best), x2: x(best), y1: 4, y2: height - bottom }),
      svg("line", { class: "xent-smoothing-floor", x1: left, x2: width, y1: y(r.floor), y2: y(r.floor) }),
      svg("circle", { class: "xent-smoothing-dot", cx: x(r.confidence), cy: y(r.loss), r: 5, "data-y-value": r.loss, "data-y-at": "center" }),
    ];
    plot.setAttribute("aria-label", `Loss of one row against the target's probability: the reader's p ${fmt(r.confidence)} ` +
      `has loss ${fmt(r.loss)}; the curve's lowest point is at p = ${fmt(best)}, loss ${fmt(r.floor)}`);
    plot.replaceChildren(svg("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true", "data-y-scale": `0 ${y(0)} ${top} ${y(top)}` }, parts));
  }

  function drawBars(r) {
    const items = r.q.map((qk, k) => element("div", { class: "xent-smoothing-class" }, [
      element("div", { class: "xent-smoothing-pair" }, [
        element("div", { class: "xent-smoothing-bar xent-smoothing-p", style: `height: ${r.probs[k] * 100}%` }),
        element("div", { class: "xent-smoothing-bar xent-smoothing-q", style: `height: ${qk * 100}%` }),
      ]),
      element("div", { class: "xent-smoothing-label", text: k === r.target ? `${k} (target)` : String(k) }),
    ]));
    bars.setAttribute("aria-label", `p and q per class: ${r.q.map((qk, k) => `class ${k} p ${fmt(r.probs[k])} q ${fmt(qk)}`).join("; ")}`);
    bars.replaceChildren(
      element("div", { class: "xent-smoothing-legend" }, [
        element("span", { class: "xent-smoothing-key xent-smoothing-p", text: "p (model)" }),
        element("span", { class: "xent-smoothing-key xent-smoothing-q", text: "q (smoothed target)" }),
      ]),
      element("div", { class: "xent-smoothing-row" }, items),
    );
  }

  function inputs() {
    return Object.fromEntries(INPUTS.map((k) => [k, model.get(k)]));
  }

  function update() {
    const now = inputs();
    const r = smoothing(now);
    show(eps, now.eps, !r.ok && r.field === "eps");
    show(classes, now.classes);
    show(confidence, now.confidence, !r.ok && r.field === "confidence");
    report(root, message, now, r);
    if (r.ok) {
      drawPlot(r);
      drawBars(r);
      numbers.textContent = `loss ${fmt(r.loss)} · floor H(q) ${fmt(r.floor)} · best confidence ${fmt(r.best)}`;
    }
    kernelNote(kernel, model, now, (a) => `loss ${fmt(fromJson(a.values.loss))}, floor ${fmt(fromJson(a.values.floor))}.`);
  }

  return live(model, [...INPUTS, "kernel"], update, plot);
}

export default { render };
