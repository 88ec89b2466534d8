// Chapter 3's explorable (naive.py computes the same with torch): the -log p curve with the five rows' target
// probabilities on it and their mean, the running example scaled and one row's target logit pushed, in float32.
import { expOverflowThreshold, sum } from "./formats.js";
import { bind, capital, drawnWidth, element, fmt, frame, fromJson, kernelNote, linear, live, numberControl, parseNumber, pathThrough, placeLabels, report, selectControl, show, spotsAround, svg, textBox } from "./ui.js";

const f = Math.fround;
const NAMES = { scale: "scale", push: "push" };
const FLOAT32_MAX = 3.4028234663852886e38;

function softmax(row) {
  const exps = row.map((z) => f(Math.exp(z)));
  const total = sum("float32", exps);
  return exps.map((e) => f(e / total));
}

function logSoftmax(row) {
  const largest = Math.max(...row);
  const shifted = row.map((z) => f(z - largest));
  const logSum = f(Math.log(sum("float32", shifted.map((s) => f(Math.exp(s))))));
  return shifted.map((s) => f(s - logSum));
}

function explain(logits, picked, losses, mean, stableLosses, stableMean, target) {
  const rows = picked.map((_, i) => i);
  const nan = rows.filter((i) => Number.isNaN(picked[i]));
  const inf = rows.filter((i) => losses[i] === Infinity || losses[i] === -Infinity);
  const threshold = expOverflowThreshold("float32");
  if (nan.length) {
    const i = nan[0];
    const largest = Math.max(...logits[i]);
    const how = largest >= threshold
      ? `exp(${fmt(largest)}) overflows float32 (inf from ${fmt(threshold, 16)} on), so its probabilities are inf / inf = nan or finite / inf = 0`
      : `every exp underflows to 0 (largest logit ${fmt(largest)}), so its probabilities are 0 / 0 = nan`;
    return (
      `Row ${i}: ${how}; its target's is nan, -log nan = nan, and the batch mean is nan: one row is enough. ` +
      `Computed stably (chapter 4) row ${i} costs ${fmt(stableLosses[i])} and the mean is ${fmt(stableMean)}.`
    );
  }
  if (inf.length) {
    const i = inf.reduce((best, j) => (stableLosses[j] > stableLosses[best] ? j : best), inf[0]);
    const [k, z] = [target[i], logits[i][target[i]]];
    const exps = logits[i].map((v) => f(Math.exp(v))); // as chapter 2's softmax computes them
    const total = sum("float32", exps);
    let how;
    if (exps.some((e) => e === Infinity)) { // not the target's own: its p would be inf / inf = nan
      how = `exp(${fmt(Math.max(...logits[i]))}) overflows float32 (inf from ${fmt(threshold, 16)} on): the row sum is inf and its ` +
        `target's probability (class ${k}) is exp(${fmt(z)}) / inf = 0`;
    } else if (total === Infinity) {
      how = `no exp overflows (largest logit ${fmt(Math.max(...logits[i]))}), but the row sum passes float32's largest ` +
        `number ${fmt(FLOAT32_MAX)}: it is inf and its target's probability (class ${k}) is exp(${fmt(z)}) / inf = 0`;
    } else if (exps[k] === 0) {
      how = `its target's exp, exp(${fmt(z)}) (class ${k}), underflows to 0 in float32: its probability is ` +
        `0 / ${fmt(total)} = 0`;
    } else {
      how = `its target's exp, exp(${fmt(z)}) (class ${k}), is not 0, but divided by the row sum ${fmt(total)} ` +
        `it underflows to 0 in float32`;
    }
    return (
      `Row ${i}: ${how}, so -log p = inf, and the batch mean is inf: one row is enough. Its true -log p is ` +
      `${fmt(stableLosses[i])} (chapter 4's stable loss), and the stable mean is ${fmt(stableMean)}.`
    );
  }
  const worst = rows.reduce((best, j) => (losses[j] > losses[best] ? j : best), 0);
  return (
    `The five rows' -log p average to ${fmt(mean)} (chapter 4's stable loss: ${fmt(stableMean)}). The costliest ` +
    `row is ${worst}: its target's probability is ${fmt(picked[worst])}, -log p = ${fmt(losses[worst])}.`
  );
}

// The twin of naive.py's explore.
export function compute(inputs, state) {
  const refuse = (message) => ({ ok: false, message, format: "float32", values: {} });
  const value = {};
  for (const name of Object.keys(NAMES)) {
    const parsed = parseNumber(inputs[name], NAMES[name], "40");
    if (parsed.problem) return refuse(capital(parsed.problem));
    value[name] = parsed.value;
  }
  const base = state.logits;
  const target = state.target;
  const row = inputs.row;
  if (!Number.isInteger(row) || row < 0 || row >= base.length) return refuse(`The row must be 0 to ${base.length - 1}, not ${row}.`);
  const extreme = Math.max(...base.flat().map(Math.abs)) * Math.abs(value.scale) + Math.abs(value.push);
  if (!(extreme <= FLOAT32_MAX)) {
    return refuse(`A logit would pass the largest float32 (${fmt(FLOAT32_MAX)}): choose a smaller scale or push.`);
  }
  const logits = base.map((r) => r.map((z) => f(f(z) * f(value.scale))));
  logits[row][target[row]] = f(logits[row][target[row]] + f(value.push));
  const picked = logits.map((r, i) => softmax(r)[target[i]]);
  const losses = picked.map((p) => f(0 - f(Math.log(p))));
  const mean = f(sum("float32", losses) / losses.length);
  const stableLosses = logits.map((r, i) => f(0 - logSoftmax(r)[target[i]]));
  const stableMean = f(sum("float32", stableLosses) / stableLosses.length);
  return {
    ok: true, format: "float32",
    message: explain(logits, picked, losses, mean, stableLosses, stableMean, target),
    values: { picked, losses, mean, stable_losses: stableLosses, stable_mean: stableMean },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: the curve -log p, the five rows on it, the mean as a dashed line.

const WIDTH = 520; // the drawing's width before the page is laid out; then the width it is shown at
const HEIGHT = 246;
const PAD = { left: 40, right: 14, top: 12, bottom: 46 };

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "naive", title: "Naive loss explorer" });
  const target = model.get("target");
  const scale = numberControl(controls, { id, name: "scale", label: "Scale every logit by", min: 0, max: 100, step: 0.5, example: "40" });
  const row = selectControl(controls, { id, name: "row", label: "Push the target logit of", options: target.map((t, i) => [i, `row ${i} (class ${t})`]) });
  const push = numberControl(controls, { id, name: "push", label: "by adding", min: -150, max: 150, step: 1, example: "40" });
  bind(model, scale);
  bind(model, row, Number);
  bind(model, push);
  const plot = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img" });
  figure.append(plot);

  function draw(r) {
    const { picked, losses, mean } = r.values;
    const finite = losses.filter(Number.isFinite);
    const top = Math.max(4, ...finite.map((l) => l * 1.15), Number.isFinite(mean) ? mean * 1.15 : 0);
    const width = drawnWidth(plot, WIDTH);
    plot.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const x = linear([0, 1], [PAD.left, width - PAD.right]);
    const y = linear([0, top], [HEIGHT - PAD.bottom, PAD.top]);
    plot.dataset.yScale = `0 ${y(0)} ${top} ${y(top)}`; // the harness checks each row's dot and the mean against the words
    const ps = [];
    for (let k = 0; k <= 120; k++) ps.push(Math.exp(-(top * k) / 120), k / 120);
    const curve = ps.filter((p) => p > 0).sort((a, b) => a - b).map((p) => [x(p), y(-Math.log(p))]);
    const points = picked.map((p, i) => {
      const broken = !Number.isFinite(losses[i]);
      const cx = Number.isFinite(p) ? x(p) : x(0);
      const cy = broken ? y(top) : y(losses[i]);
      return svg("g", { class: broken ? "xent-naive-broken" : "xent-naive-row" }, [
        svg("circle", { cx, cy, r: 5 }),
        svg("text", { x: cx + 7, y: cy - 6, text: broken ? `row ${i}: ${fmt(losses[i])}` : `row ${i}` }),
      ]);
    });
    const meanLine = Number.isFinite(mean)
      ? [svg("line", { x1: PAD.left, x2: width - PAD.right, y1: y(mean), y2: y(mean), class: "xent-naive-mean", "data-y-value": mean, "data-y-at": "top" }),
        svg("text", { x: width - PAD.right, y: y(mean) - 4, "text-anchor": "end", text: `batch mean ${fmt(mean)}` })]
      : [svg("text", { x: width - PAD.right, y: PAD.top + 10, "text-anchor": "end", class: "xent-naive-bad", text: `batch mean ${fmt(mean)}` })];
    plot.setAttribute("aria-label", `The curve -log p, with the rows: ${picked.map((p, i) =>
      `row ${i} p ${fmt(p)}, -log p ${fmt(losses[i])}`).join("; ")}; batch mean ${fmt(mean)}`);
    plot.replaceChildren(
      svg("line", { x1: PAD.left, x2: width - PAD.right, y1: y(0), y2: y(0), class: "xent-axis" }),
      svg("line", { x1: PAD.left, x2: PAD.left, y1: y(0), y2: y(top), class: "xent-axis" }),
      svg("path", { d: pathThrough(curve), class: "xent-naive-curve" }),
      svg("text", { x: PAD.left - 4, y: y(0) + 4, "text-anchor": "end", text: "0" }),
      svg("text", { x: PAD.left - 4, y: y(top) + 8, "text-anchor": "end", text: fmt(top, 3) }),
      svg("text", { x: PAD.left, y: HEIGHT - PAD.bottom + 16, "text-anchor": "middle", text: "0" }),
      svg("text", { x: width - PAD.right, y: HEIGHT - PAD.bottom + 16, "text-anchor": "end", text: "1" }),
      svg("text", { x: (PAD.left + width - PAD.right) / 2, y: HEIGHT - 4, "text-anchor": "middle", text: "target's probability p  (curve: -log p)" }),
      ...meanLine,
      ...points,
    );
    // Each row's name beside its dot, where it overlaps no other name, the mean's label and line, or the curve.
    const band = Number.isFinite(mean) ? [{ x: 0, y: y(mean) - 2, width, height: 4 }] : [];
    const fixed = [...plot.querySelectorAll(":scope > text")].map((t) =>
      textBox(Number(t.getAttribute("x")), Number(t.getAttribute("y")), t.textContent, t.getAttribute("text-anchor") ?? "start"));
    placeLabels(points.map((g) => {
      const dot = g.querySelector("circle");
      const [cx, cy] = [Number(dot.getAttribute("cx")), Number(dot.getAttribute("cy"))];
      return { label: g.querySelector("text"), spots: spotsAround(cx, cy) };
    }), [...band, ...fixed, ...curve.map(([px, py]) => ({ x: px - 1.5, y: py - 1.5, width: 3, height: 3 }))], { width, height: HEIGHT });
  }

  function update() {
    const inputs = { scale: model.get("scale"), row: model.get("row"), push: model.get("push") };
    const r = compute(inputs, { logits: model.get("logits"), target });
    show(row, inputs.row);
    // The one field that is wrong: the first that is not a number; else (a logit past float32) the push if it is
    // pushed past float32 on its own, the scale otherwise.
    const wrong = (c) => parseNumber(inputs[c.name], c.name).problem;
    const problem = !r.ok && ([scale, push].find(wrong) ?? (Math.abs(Number(inputs.push)) > FLOAT32_MAX / 2 ? push : scale));
    [scale, push].forEach((c) => show(c, inputs[c.name], c === problem));
    report(root, message, inputs, r);
    if (r.ok) draw(r);
    kernelNote(kernel, model, inputs, (a) =>
      `batch mean ${fmt(fromJson(a.values.mean))}, stable ${fmt(fromJson(a.values.stable_mean))}.`);
  }

  return live(model, ["scale", "row", "push", "kernel"], update, plot);
}

export default { render };
