// Chapter 1's explorable (bce.py computes the same with torch): move w and b; six students on the sigmoid, each
// one's loss and the mean, naive (from probabilities) and with logits, every operation rounded to float32.
import { sum, ulpOf } from "./formats.js";
import { bind, capital, drawnWidth, element, fitTable, fmt, frame, fromJson, kernelNote, linear, live, numberControl, parseNumber, pathThrough, placeLabels, report, show, spotsAround, svg, textBox } from "./ui.js";

const f = Math.fround;
const AGREE_ULPS = 4;
const NAMES = { w0: "weight of hours studied", w1: "weight of hours slept", b: "bias" };
const FLOAT32_MAX = 3.4028234663852886e38;

// log(sigmoid(x)) as torch computes it on the CPU: min(x, 0) - log1p(exp(-|x|)).
function logSigmoid(x) {
  return f(Math.min(x, 0) - f(Math.log1p(f(Math.exp(-Math.abs(x))))));
}


// "student 3" or "students 0, 1 and 3".
function students(ks) {
  if (ks.length === 1) return `student ${ks[0]}`;
  return `students ${ks.slice(0, -1).join(", ")} and ${ks[ks.length - 1]}`;
}

// A right call's cost log(1 + e^-|z|), printed; below float32's smallest normal number as about e^-|z| (there
// torch and the browser may round exp's last bit differently, or flush it to 0).
function smallCost(z, cost) {
  if (cost < 2 ** -126) return `about e^${fmt(-Math.abs(z))}, below float32's smallest normal number`;
  return fmt(cost);
}

function explain(logits, probs, target, naive, stable, naiveMean, stableMean) {
  const verdict = (k) => (target[k] === 1 ? "passed" : "failed");
  const indices = naive.map((_, k) => k);
  const nan = indices.filter((k) => Number.isNaN(naive[k]));
  const inf = indices.filter((k) => naive[k] === Infinity || naive[k] === -Infinity);
  const means = `mean loss: naive ${fmt(naiveMean)}, with logits ${fmt(stableMean)}`;
  const argmax = (ks, key) => ks.reduce((best, k) => (key(k) > key(best) ? k : best), ks[0]);
  const parts = [];
  const confident = (ks) => argmax(ks, (j) => Math.abs(logits[j])); // the first to break as |z| grows
  if (inf.length) {
    const k = confident(inf);
    const side = probs[k] === 1 ? "1" : "0";
    const log = side === "1" ? "log(1 - p) = log 0" : "log p = log 0";
    parts.push(
      `Student ${k} ${verdict(k)}, yet z = ${fmt(logits[k])} is a confident mistake: the computed sigmoid(z) ` +
      `is exactly ${side} in float32, so ${log} = -inf and the naive loss is inf. With logits no probability is ` +
      `rounded to ${side}: that student costs ${fmt(stable[k])}.`,
    );
  }
  if (nan.length) {
    const k = confident(nan);
    const side = probs[k] === 0 ? "0" : "1";
    parts.push(
      `Student ${k} ${verdict(k)} and z = ${fmt(logits[k])} is a confident right call, but the computed sigmoid(z) ` +
      `is ${side} in float32 and the naive formula still computes the term its label switches off: ` +
      `0 x log 0 = 0 x -inf = nan. With logits that student costs ${smallCost(logits[k], stable[k])}.`,
    );
  }
  if (inf.length > 1 || nan.length > 1) {
    const broken = [["inf", inf], ["nan", nan]].filter(([, ks]) => ks.length).map(([word, ks]) => `${word} for ${students(ks)}`);
    parts.push(`The naive loss is ${broken.join(", ")}.`);
  }
  if (parts.length) return `${parts.join(" ")} ${capital(means)}.`;
  const apart = Math.abs(naiveMean - stableMean) / ulpOf("float32", stableMean);
  if (apart > AGREE_ULPS) { // 9 digits tell any two float32 numbers apart: the printed means differ as the words say
    const k = argmax(indices, (j) => Math.abs(naive[j] - stable[j]));
    return (
      `Every probability is strictly between 0 and 1, but the two means differ by ${fmt(apart, 3)} ulps of ` +
      `float32, more than ${AGREE_ULPS} (mean loss: naive ${fmt(naiveMean, 9)}, with logits ` +
      `${fmt(stableMean, 9)}): student ${k}'s p = ${fmt(probs[k])} was rounded to float32 before its log.`
    );
  }
  const worst = argmax(indices, (j) => stable[j]);
  return (
    `Every probability is strictly between 0 and 1 in float32: naive and with-logits agree to within ` +
    `${AGREE_ULPS} ulps, ${means}. The costliest student is ${worst} (${verdict(worst)}, ` +
    `p = ${fmt(probs[worst])}, loss ${fmt(stable[worst])}).`
  );
}

// The twin of bce.py's explore (its Result as a plain object).
export function compute(inputs, state) {
  const value = {};
  for (const name of ["w0", "w1", "b"]) {
    const parsed = parseNumber(inputs[name], NAMES[name], "0.9");
    if (parsed.problem) return { ok: false, message: parsed.problem, format: "float32", values: {} };
    if (Math.abs(parsed.value) > FLOAT32_MAX) {
      return { ok: false, message: `${capital(NAMES[name])} ${fmt(parsed.value)} is past the largest float32: type a smaller number.`, format: "float32", values: {} };
    }
    value[name] = f(parsed.value);
  }
  const target = state.passed;
  const logits = state.students.map(([studied, slept]) => f(f(f(studied * value.w0) + f(slept * value.w1)) + value.b));
  const probs = logits.map((z) => f(1 / f(1 + f(Math.exp(f(-z))))));
  const naive = probs.map((p, k) => f(-f(f(target[k] * f(Math.log(p))) + f((1 - target[k]) * f(Math.log(f(1 - p)))))));
  const stable = logits.map((z, k) => f(-f(f(target[k] * logSigmoid(z)) + f((1 - target[k]) * logSigmoid(-z)))));
  const naiveMean = f(sum("float32", naive) / naive.length);
  const stableMean = f(sum("float32", stable) / stable.length);
  return {
    ok: true, format: "float32",
    message: explain(logits, probs, target, naive, stable, naiveMean, stableMean),
    values: { logits, probs, naive, stable, naive_mean: naiveMean, stable_mean: stableMean },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: the sigmoid with the six students on it, and a table of their losses.

const WIDTH = 520; // the drawing's width before the page is laid out; then the width it is shown at
const HEIGHT = 190;
const PAD = { left: 36, right: 12, top: 10, bottom: 44 };

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "bce", title: "Sigmoid and binary cross entropy explorer" });
  const sliders = [
    numberControl(controls, { id, name: "w0", label: "Weight of hours studied", min: -3, max: 3, step: 0.05, example: "0.9" }),
    numberControl(controls, { id, name: "w1", label: "Weight of hours slept", min: -3, max: 3, step: 0.05, example: "0.9" }),
    numberControl(controls, { id, name: "b", label: "Bias", min: -40, max: 40, step: 0.5, example: "0.9" }),
  ];
  sliders.forEach((s) => bind(model, s));

  const plot = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img" });
  const table = element("table", { class: "xent-table", tabindex: "0", "aria-label": "Each student's logit, probability and loss" });
  figure.append(plot, table);

  function draw(r, target) {
    const { logits, probs, naive, stable } = r.values;
    const width = drawnWidth(plot, WIDTH, 416);
    plot.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const reach = Math.max(8, ...logits.filter(Number.isFinite).map((z) => Math.min(Math.abs(z) * 1.1, 60)));
    const x = linear([-reach, reach], [PAD.left, width - PAD.right]);
    const y = linear([0, 1], [HEIGHT - PAD.bottom, PAD.top]);
    plot.dataset.yScale = `0 ${y(0)} 1 ${y(1)}`; // the harness checks each student's dot against the printed p
    const curve = [];
    for (let k = 0; k <= 200; k++) {
      const z = -reach + (2 * reach * k) / 200;
      curve.push([x(z), y(1 / (1 + Math.exp(-z)))]);
    }
    const marks = logits.map((z, k) => {
      const clamped = Math.max(-reach, Math.min(reach, z));
      const cx = x(clamped);
      const cy = y(probs[k]);
      const passed = target[k] === 1;
      const broken = !Number.isFinite(naive[k]);
      const shape = passed
        ? svg("circle", { cx, cy, r: 5, class: "xent-bce-passed", "data-y-value": probs[k], "data-y-at": "center" })
        : svg("path", { d: `M${cx - 5},${cy - 5}L${cx + 5},${cy + 5}M${cx - 5},${cy + 5}L${cx + 5},${cy - 5}`, class: "xent-bce-failed", "data-y-value": probs[k], "data-y-at": "center" });
      // The number beside each mark: above a passed student (the curve runs below-right of it), below a failed one.
      return svg("g", { class: broken ? "xent-bce-broken" : "" }, [
        shape,
        svg("text", { x: cx + (passed ? -7 : 7), y: cy + (passed ? -8 : 16), "text-anchor": passed ? "end" : "start", text: String(k) }),
      ]);
    });
    plot.setAttribute("aria-label", `Sigmoid curve with the six students: ${logits.map((z, k) =>
      `student ${k} (${target[k] === 1 ? "passed" : "failed"}) at z ${fmt(z)}, p ${fmt(probs[k])}`).join("; ")}`);
    plot.replaceChildren(
      svg("line", { x1: PAD.left, x2: width - PAD.right, y1: y(0), y2: y(0), class: "xent-axis" }),
      svg("line", { x1: x(0), x2: x(0), y1: y(0), y2: y(1), class: "xent-axis" }),
      svg("line", { x1: PAD.left, x2: width - PAD.right, y1: y(0.5), y2: y(0.5), class: "xent-axis xent-bce-half" }),
      svg("path", { d: pathThrough(curve), class: "xent-bce-curve" }),
      svg("text", { x: PAD.left - 6, y: y(1) + 4, "text-anchor": "end", text: "1" }),
      svg("text", { x: PAD.left - 6, y: y(0) + 4, "text-anchor": "end", text: "0" }),
      svg("text", { x: PAD.left, y: HEIGHT - PAD.bottom + 16, "text-anchor": "middle", text: fmt(-reach, 3) }),
      svg("text", { x: width - PAD.right, y: HEIGHT - PAD.bottom + 16, "text-anchor": "end", text: fmt(reach, 3) }),
      svg("text", { x: (PAD.left + width - PAD.right) / 2, y: HEIGHT - 4, "text-anchor": "middle", text: "logit z = w·x + b  (● passed, × failed)" }),
      ...marks,
    );
    // Each student's number beside its mark, where it overlaps no other number, no label of the axes, not the curve.
    const fixed = [...plot.querySelectorAll(":scope > text")].map((t) =>
      textBox(Number(t.getAttribute("x")), Number(t.getAttribute("y")), t.textContent, t.getAttribute("text-anchor") ?? "start"));
    placeLabels(logits.map((z, k) => {
      const [cx, cy] = [x(Math.max(-reach, Math.min(reach, z))), y(probs[k])];
      const first = target[k] === 1 ? [cx - 7, cy - 8, "end"] : [cx + 7, cy + 16, "start"];
      return { label: marks[k].querySelector("text"), spots: [first, ...spotsAround(cx, cy)] };
    }), [...fixed, ...curve.map(([px, py]) => ({ x: px - 1.5, y: py - 1.5, width: 3, height: 3 }))], { width, height: HEIGHT });
    // The means to as many digits as it takes to tell them apart (up to float32's 9), as the words under the figure.
    const [naiveMean, stableMean] = [r.values.naive_mean, r.values.stable_mean];
    const digits = naiveMean !== stableMean && fmt(naiveMean) === fmt(stableMean) ? 9 : 4;
    const header = element("tr", {}, ["student", "passed", "z", "p", "naive loss", "with logits"].map((t) => element("th", { scope: "col", text: t })));
    const rows = logits.map((z, k) => element("tr", {}, [
      element("th", { scope: "row", text: String(k) }),
      element("td", { text: target[k] === 1 ? "yes" : "no" }),
      ...[z, probs[k], naive[k], stable[k]].map((v) => element("td", { text: fmt(v), class: Number.isFinite(v) ? "" : "xent-bad" })),
    ]));
    const mean = element("tr", { class: "xent-bce-mean" }, [
      element("th", { scope: "row", text: "mean", "data-label": "" }), element("td"), element("td"), element("td"),
      ...[naiveMean, stableMean].map((v) => element("td", { text: fmt(v, digits), class: Number.isFinite(v) ? "" : "xent-bad" })),
    ]);
    table.replaceChildren(element("thead", {}, [header]), element("tbody", {}, [...rows, mean]));
  }

  function update() {
    const inputs = { w0: model.get("w0"), w1: model.get("w1"), b: model.get("b") };
    const r = compute(inputs, { students: model.get("students"), passed: model.get("passed") });
    // The one field that is wrong: the first that is not a number, else the first past float32's range.
    const problem = !r.ok && (sliders.find((s) => parseNumber(inputs[s.name], s.name).problem) ??
      sliders.find((s) => Math.abs(Number(inputs[s.name])) > FLOAT32_MAX));
    sliders.forEach((s) => show(s, inputs[s.name], s === problem));
    report(root, message, inputs, r);
    if (r.ok) draw(r, model.get("passed"));
    kernelNote(kernel, model, inputs, (a) =>
      `mean loss naive ${fmt(fromJson(a.values.naive_mean))}, with logits ${fmt(fromJson(a.values.stable_mean))}.`);
    fitTable(table); // last: its one read of the layout sees every change of this move
  }

  return live(model, ["w0", "w1", "b", "kernel"], update, plot);
}

export default { render };
