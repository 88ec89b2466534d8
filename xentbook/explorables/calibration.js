// Chapter 12's explorable: the validation digits' saved logits divided by a temperature T, as a reliability
// diagram, the ECE, the NLL and the accuracy.
//
// compute() is the browser's twin of calibration.py's compute: the same log-softmax ((z - max) - log(sum(exp(z -
// max)))) in float64 from the saved float32 logits, the same equal-width bins, every number rounded to float32.

import { bind, drawnWidth, element, fmt, frame, fromJson, kernelNote, live, numberControl, parseNumber, report, selectControl, show, svg } from "./ui.js";

const f = Math.fround;
const BIN_CHOICES = [5, 10, 15, 20];
const LOWEST = 0.01;
const HIGHEST = 100;
export const INPUTS = ["temperature", "bins"];

function readInputs(inputs) {
  const parsed = parseNumber(inputs.temperature, "The temperature T", "1.5");
  if (parsed.problem) return { problem: parsed.problem };
  const temperature = parsed.value;
  if (!(temperature >= LOWEST && temperature <= HIGHEST)) {
    return { problem: `The temperature T must be between ${fmt(LOWEST)} and ${fmt(HIGHEST)}, not ${fmt(temperature)}.` };
  }
  const bins = inputs.bins;
  if (!BIN_CHOICES.includes(bins)) return { problem: `The number of bins must be 5, 10, 15 or 20, not ${bins}.` };
  return { temperature, bins };
}

function describe(temperature, bins, nll, accuracy, ece, confidence) {
  const side = confidence > accuracy ? "above the accuracy: overconfident"
    : confidence < accuracy ? "below the accuracy: underconfident" : "equal to the accuracy";
  return `T = ${fmt(temperature)}: the NLL of the 360 validation digits is ${fmt(nll)} and the accuracy ` +
    `${fmt(accuracy)} (the same at every T, since dividing a row by T > 0 keeps its largest logit the ` +
    `largest). Over ${bins} equal-width bins of confidence the ECE is ${fmt(ece)}; the mean confidence, ` +
    `${fmt(confidence)}, is ${side}.`;
}

// One row's log-softmax in float64, the max subtracted first (torch's order of operations).
function logSoftmax(row) {
  const largest = Math.max(...row);
  const shifted = row.map((z) => z - largest);
  let total = 0;
  for (const s of shifted) total += Math.exp(s);
  const logSum = Math.log(total);
  return shifted.map((s) => s - logSum);
}

// The twin of calibration.py's compute; state holds the saved logits and targets.
export function compute(inputs, state) {
  const read = readInputs(inputs);
  if (read.problem) return { ok: false, message: read.problem, format: "float32", values: {} };
  const { temperature, bins } = read;
  const target = state.target;
  const m = target.length;
  const count = new Array(bins).fill(0);
  const hits = new Array(bins).fill(0);
  const sure = new Array(bins).fill(0);
  let nllSum = 0;
  let correctSum = 0;
  let confidenceSum = 0;
  state.logits.forEach((row, i) => {
    const logProbs = logSoftmax(row.map((z) => f(z) / temperature));
    const probs = logProbs.map(Math.exp);
    let predicted = 0;
    for (let k = 1; k < probs.length; k++) if (probs[k] > probs[predicted]) predicted = k;
    const confidence = probs[predicted];
    const correct = predicted === target[i] ? 1 : 0;
    const bin = Math.min(Math.floor(confidence * bins), bins - 1);
    count[bin] += 1;
    hits[bin] += correct;
    sure[bin] += confidence;
    nllSum += -logProbs[target[i]];
    correctSum += correct;
    confidenceSum += confidence;
  });
  const binAccuracy = count.map((n, k) => (n > 0 ? hits[k] / n : 0));
  const binConfidence = count.map((n, k) => (n > 0 ? sure[k] / n : 0));
  let ece = 0;
  count.forEach((n, k) => { ece += (n / m) * Math.abs(binAccuracy[k] - binConfidence[k]); });
  const values = {
    nll: f(nllSum / m), accuracy: f(correctSum / m), confidence: f(confidenceSum / m), ece: f(ece),
    count: count.map(f), bin_accuracy: binAccuracy.map(f), bin_confidence: binConfidence.map(f),
  };
  const message = describe(temperature, bins, values.nll, values.accuracy, values.ece, values.confidence);
  return { ok: true, message, format: "float32", values };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: one bar per bin at its accuracy, a tick at its mean confidence, the diagonal of perfect calibration.

const WIDTH = 520;
const HEIGHT = 260;
const PAD = { left: 48, right: 14, top: 14, bottom: 46 };

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "calibration", title: "Calibration explorer" });
  const temperature = numberControl(controls, { id, name: "temperature", label: "Temperature T", min: 0.1, max: 5, step: 0.05, example: "1.5" });
  const bins = selectControl(controls, { id, name: "bins", label: "Bins of confidence", options: BIN_CHOICES.map((b) => [b, `${b} bins`]) });
  bind(model, temperature);
  bind(model, bins, Number);
  const plot = element("div", { class: "xent-calibration-plot", role: "img" }); // the chart is drawn at its shown width
  const readout = element("p", { class: "xent-calibration-readout" });
  figure.append(plot, readout);
  const state = () => ({ logits: model.get("logits"), target: model.get("target") });

  function draw(r, binCount) {
    const { count, bin_accuracy: accuracy, bin_confidence: confidence } = r.values;
    const shown = drawnWidth(plot, WIDTH);
    const x = (v) => PAD.left + v * (shown - PAD.left - PAD.right);
    const y = (v) => HEIGHT - PAD.bottom - v * (HEIGHT - PAD.top - PAD.bottom);
    const width = (shown - PAD.left - PAD.right) / binCount;
    const counted = width >= 28; // each bin's row count fits under its bar (else the label below says so)
    const marks = [];
    for (let k = 0; k < binCount; k++) {
      if (count[k] === 0) continue;
      marks.push(svg("rect", { x: x(k / binCount) + 1, width: Math.max(width - 2, 1), y: y(accuracy[k]), height: y(0) - y(accuracy[k]), class: "xent-calibration-bar" }));
      marks.push(svg("line", { x1: x(k / binCount) + 1, x2: x((k + 1) / binCount) - 1, y1: y(confidence[k]), y2: y(confidence[k]), class: "xent-calibration-confidence" }));
      if (counted) marks.push(svg("text", { x: x((k + 0.5) / binCount), y: HEIGHT - PAD.bottom + 15, "text-anchor": "middle", class: "xent-calibration-count", text: String(count[k]) }));
    }
    plot.setAttribute("aria-label", "Reliability diagram: " + count.map((n, k) => (n === 0 ? null
      : `confidence ${fmt(k / binCount, 2)} to ${fmt((k + 1) / binCount, 2)}: ${n} rows, accuracy ${fmt(accuracy[k])}, mean confidence ${fmt(confidence[k])}`))
      .filter(Boolean).join("; "));
    plot.replaceChildren(svg("svg", { viewBox: `0 0 ${shown} ${HEIGHT}`, "aria-hidden": "true" }, [
      svg("line", { x1: x(0), x2: x(1), y1: y(0), y2: y(0), class: "xent-axis" }),
      svg("line", { x1: x(0), x2: x(0), y1: y(0), y2: y(1), class: "xent-axis" }),
      svg("line", { x1: x(0), x2: x(1), y1: y(0), y2: y(1), class: "xent-calibration-diagonal" }),
      ...marks,
      svg("text", { x: PAD.left - 4, y: y(0) + 4, "text-anchor": "end", text: "0" }),
      svg("text", { x: PAD.left - 4, y: y(1) + 4, "text-anchor": "end", text: "1" }),
      svg("text", { x: PAD.left - 22, y: y(0.5), "text-anchor": "middle", transform: `rotate(-90 ${PAD.left - 22} ${y(0.5)})`, text: "accuracy" }),
      svg("text", { x: x(0), y: HEIGHT - 6, text: "0" }),
      svg("text", { x: x(1), y: HEIGHT - 6, "text-anchor": "end", text: "1" }),
      svg("text", { x: x(0.5), y: HEIGHT - 6, "text-anchor": "middle", text: counted ? "confidence (under bars: rows)" : "confidence" }),
    ]));
    readout.textContent = `NLL ${fmt(r.values.nll)} · accuracy ${fmt(r.values.accuracy)} · ECE ${fmt(r.values.ece)}. ` +
      "Bars: each bin's accuracy; lines: its mean confidence; diagonal: perfect calibration.";
  }

  function update() {
    const inputs = { temperature: model.get("temperature"), bins: model.get("bins") };
    const r = compute(inputs, state());
    show(bins, inputs.bins);
    show(temperature, inputs.temperature, !r.ok && BIN_CHOICES.includes(inputs.bins)); // the bins are a menu: T is wrong
    report(root, message, inputs, r);
    if (r.ok) draw(r, inputs.bins);
    kernelNote(kernel, model, inputs, (a) =>
      `NLL ${fmt(fromJson(a.values.nll))}, accuracy ${fmt(fromJson(a.values.accuracy))}, ECE ${fmt(fromJson(a.values.ece))}.`);
  }

  return live(model, [...INPUTS, "kernel"], update, plot);
}

export default { render };
