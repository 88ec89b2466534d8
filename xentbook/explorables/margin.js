// Chapter 9's explorable: one dominant logit's margin, and the float32 ulps that the max-shifted log-softmax and
// log_softmax_log1p lose against the float64 reference.
//
// compute() is the browser's twin of margin.py's compute, which calls the package's own functions
// (xentbook.scratch.log_softmax, xentbook.accuracy.log_softmax_log1p, reference_log_softmax): the same algorithms,
// each rounded where torch rounds (every float32 operation with Math.fround; log_softmax_log1p once, at the end,
// from float64), the reference in float64, and the same words.

import { op, sum, ulpOf } from "./formats.js";
import { bind, drawnWidth, element, fitTable, fmt, frame, fromJson, kernelNote, live, numberControl, parseNumber, report, show, svg } from "./ui.js";

const F = "float32";
const OTHERS = [-1.2656, -0.9112]; // the running example's first row, classes 1 and 2
const DOMINANT = 0;
const HALF_EPS = 2 ** -24;
const LARGEST_MARGIN = 1e30;
export const INPUTS = ["margin"];

// xentbook.accuracy.ulp_bucket: an ulp count as a bound that every CPU's kernels share.
export function ulpBucket(value) {
  if (value < 0.5) return "< 0.5";
  if (value < 4) return "< 4";
  const low = Math.floor(Math.log2(value));
  return `2^${low} to 2^${low + 1}`;
}

// xentbook.scratch.log_softmax in float32: (z - max) - log(sum(exp(z - max))).
function maxShifted(row) {
  const largest = Math.max(...row);
  const shifted = row.map((z) => op(F, z - largest));
  const logSum = op(F, Math.log(sum(F, shifted.map((s) => op(F, Math.exp(s))))));
  return shifted.map((s) => op(F, s - logSum));
}

// xentbook.accuracy.log_softmax_log1p, everything from the shift on in float64 (float32 logits are float64 numbers
// exactly): (z - max) - log1p(sum of the other exp(z - max)), the largest term left out of the sum. The function
// rounds this once to float32; unrounded, it is the float64 reference (reference_log_softmax).
function log1pFloat64(row) {
  const largest = Math.max(...row);
  const argmax = row.indexOf(largest);
  const shifted = row.map((z) => z - largest);
  const others = shifted.map((s, k) => (k === argmax ? 0 : Math.exp(s)));
  const log1p = Math.log1p(sum("float64", others));
  return shifted.map((s) => s - log1p);
}

// xentbook.accuracy.ulp_error: |computed - reference| in float32 ulps of the reference.
const ulpError = (computed, reference) => Math.abs(computed - reference) / ulpOf(F, op(F, reference));

function describe(s, maxShiftedD, referenceD, ulpsShifted, ulpsLog1p) {
  const head = `The other classes' terms exp(z − max) add up to s = ${fmt(s)}; added to 1 one at a time in float32, a ` +
    `term below half of float32's eps (${fmt(HALF_EPS)}) rounds away.`;
  if (maxShiftedD === 0) {
    return `${head} Here the float32 sum comes out as exactly 1, so the max-shifted log-softmax returns log p0 = 0 ` +
      `exactly: an error of ${ulpBucket(ulpsShifted)} ulps against the reference ${fmt(referenceD)}. ` +
      `log_softmax_log1p never adds the 1; its error: ${ulpBucket(ulpsLog1p)} ulps.`;
  }
  return `${head} On the dominant class the max-shifted log-softmax's error is ${ulpBucket(ulpsShifted)} ulps ` +
    `against the reference ${fmt(referenceD)}; log_softmax_log1p's: ${ulpBucket(ulpsLog1p)} ulps.`;
}

export function margin(inputs) {
  const parsed = parseNumber(inputs.margin, "the margin", "20");
  if (parsed.problem) return { ok: false, message: parsed.problem };
  if (!(parsed.value >= 0 && parsed.value <= LARGEST_MARGIN)) {
    return { ok: false, message: `The margin must be between 0 and ${fmt(LARGEST_MARGIN)}, not ${fmt(parsed.value)}.` };
  }
  const row = [Math.max(...OTHERS) + parsed.value, ...OTHERS].map((v) => op(F, v));
  const shifted = maxShifted(row);
  const reference = log1pFloat64(row);
  const log1p = reference.map((v) => op(F, v)); // log_softmax_log1p: the float64 value rounded once
  const ulpsShifted = shifted.map((c, k) => ulpError(c, reference[k]));
  const ulpsLog1p = log1p.map((c, k) => ulpError(c, reference[k]));
  const largest = Math.max(...row);
  const s = Math.exp(row[1] - largest) + Math.exp(row[2] - largest);
  const message = describe(s, shifted[DOMINANT], reference[DOMINANT], ulpsShifted[DOMINANT], ulpsLog1p[DOMINANT]);
  return { ok: true, message, row, shifted, log1p, reference, ulpsShifted, ulpsLog1p, s };
}

// What the harness compares with torch (margin.py's compute): the same keys, the same words.
export function compute(inputs) {
  const r = margin(inputs);
  if (!r.ok) return { ok: false, message: r.message, format: F, values: {} };
  return {
    ok: true, message: r.message, format: F,
    values: { logits: r.row, max_shifted: r.shifted, log1p: r.log1p, reference: r.reference.map((v) => op(F, v)) },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: a table of the three log-probabilities with each method's error in ulps, and the dominant class's
// errors as bars on a log scale (half an ulp, the best possible, marked).

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "margin", title: "Accuracy explorer: one dominant logit" });
  const marginControl = numberControl(controls, {
    id, name: "margin", label: "Class 0 above the others by", min: 0, max: 40, step: 0.5, example: "20",
  });
  bind(model, marginControl);
  const table = element("table", { class: "xent-table xent-margin-table", tabindex: "0",
    "aria-label": "Log-probabilities: the float64 reference, and each float32 method with its error in ulps" });
  const chart = element("div", { class: "xent-margin-chart", role: "img" });
  figure.append(table, chart);

  function drawTable(r) {
    const header = element("tr", {}, ["class", "logit", "reference (float64)", "max-shifted", "ulps", "log1p form", "ulps"]
      .map((t) => element("th", { scope: "col", text: t })));
    const rows = r.row.map((z, k) => element("tr", {}, [
      element("th", { scope: "row", text: k === DOMINANT ? `${k} (dominant)` : String(k) }),
      element("td", { text: fmt(z) }),
      element("td", { text: fmt(r.reference[k], 7) }),
      element("td", { text: fmt(r.shifted[k], 7) }),
      element("td", { class: r.ulpsShifted[k] >= 4 ? "xent-bad" : "", text: ulpBucket(r.ulpsShifted[k]) }),
      element("td", { text: fmt(r.log1p[k], 7) }),
      element("td", { class: r.ulpsLog1p[k] >= 4 ? "xent-bad" : "", text: ulpBucket(r.ulpsLog1p[k]) }),
    ]));
    table.replaceChildren(element("thead", {}, [header]), element("tbody", {}, rows));
  }

  function drawChart(r) {
    const width = drawnWidth(chart, 320);
    const height = 90;
    const left = 92;
    const span = 26; // log2 of the errors drawn: 2^-2 to 2^24
    const x = (ulps) => left + ((Math.log2(Math.max(ulps, 2 ** -2)) + 2) / span) * (width - left - 6);
    const bars = [["max-shifted", r.ulpsShifted[DOMINANT]], ["log1p form", r.ulpsLog1p[DOMINANT]]];
    const parts = [svg("line", { class: "xent-axis", x1: left, x2: left, y1: 4, y2: height - 18 })];
    bars.forEach(([label, ulps], n) => {
      const y = 10 + n * 30;
      parts.push(svg("text", { x: left - 6, y: y + 13, "text-anchor": "end", text: label }));
      parts.push(svg("rect", { class: `xent-margin-bar xent-margin-bar-${n}`, x: left, y, width: Math.max(1, x(ulps) - left), height: 18 }));
    });
    parts.push(svg("line", { class: "xent-margin-half", x1: x(0.5), x2: x(0.5), y1: 4, y2: height - 18 }));
    parts.push(svg("text", { x: x(0.5), y: height - 4, "text-anchor": "middle", text: "½ ulp" }));
    parts.push(svg("text", { x: x(2 ** 23), y: height - 4, "text-anchor": "middle", text: "2^23" }));
    chart.setAttribute("aria-label", `Error of log p0 in float32 ulps, log scale: max-shifted ${ulpBucket(r.ulpsShifted[DOMINANT])}, ` +
      `log1p form ${ulpBucket(r.ulpsLog1p[DOMINANT])}`);
    chart.replaceChildren(svg("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" }, parts));
  }

  function update() {
    const now = { margin: model.get("margin") };
    const r = margin(now);
    show(marginControl, now.margin, !r.ok);
    report(root, message, now, r);
    if (r.ok) {
      drawTable(r);
      drawChart(r);
    }
    kernelNote(kernel, model, now, (a) => `log p0 ${fmt(fromJson(a.values.max_shifted[0]), 7)} (max-shifted), ` +
      `${fmt(fromJson(a.values.log1p[0]), 7)} (log1p form), reference ${fmt(fromJson(a.values.reference[0]), 7)}.`);
    fitTable(table); // last: its one read of the layout sees every change of this move
  }

  return live(model, [...INPUTS, "kernel"], update, chart);
}

export default { render };
