// Chapter 11's explorable: tokens m, width d, vocabulary C and the chunk size -> the fused loss's peak memory and
// the bytes of the weight and its gradient that its matrix products move, beside the plain path's. compute() is the
// twin of chunks.py's compute: the chapter's formulas, the same integers, the same words (doubles hold these byte
// counts exactly: every one stays below 2^53, and inputs that would pass it are refused).

import { bind, element, fmt, frame, fromJson, kernelNote, live, numberControl, report, show, size, times, wholeNumbers } from "./ui.js";

const FLOAT32 = 4;
const LIMITS = { tokens: 2 ** 24, width: 2 ** 16, vocabulary: 2 ** 22, chunk: 2 ** 24 };
const NAMES = { tokens: "the number of tokens m", width: "the model width d", vocabulary: "the vocabulary C", chunk: "the chunk size" };
const EXAMPLES = { tokens: "4096", width: "1024", vocabulary: "32000", chunk: "64" };
const EXACT = 2 ** 53;
export const INPUTS = ["tokens", "width", "vocabulary", "chunk"];

const ceilDiv = (a, b) => Math.ceil(a / b); // exact: a and b are whole numbers below 2^53

// xentbook.fused.default_chunk_size: a memory budget of d // 16 rows, at least 16, at most m.
export function budgetChunk(m, d) {
  return Math.max(Math.min(m, Math.max(Math.floor(d / 16), 16)), 1);
}

// Liger Kernel's rule (chapter 11's liger_chunk_size): the power of two at or above m / ceil(C / d).
export function ligerChunk(m, d, C) {
  const perChunk = ceilDiv(m, ceilDiv(C, d));
  let power = 1;
  while (power < perChunk) power *= 2;
  return power;
}

function readInputs(inputs, names = INPUTS) {
  const read = wholeNumbers(inputs, names, NAMES, EXAMPLES, LIMITS);
  if (read.problem) return read;
  const numbers = read.numbers;
  if (!names.includes("chunk")) return { numbers };
  const { tokens: m, width: d, vocabulary: C, chunk } = numbers;
  const chunks = ceilDiv(m, chunk);
  if (chunks * 4 * C * d * FLOAT32 >= EXACT) { // left to right, every partial product is at most the whole
    return {
      problem: `${chunks} chunks of a ${C} x ${d} weight move 2^53 bytes or more (about 9 PB), past what this page ` +
        "counts exactly: use a bigger chunk, fewer tokens, or a smaller model.",
      field: "chunk",
    };
  }
  return { numbers };
}

export function bill(m, d, C, chunk) {
  const rows = Math.min(chunk, m);
  const chunks = ceilDiv(m, chunk);
  const gradW = C * d * FLOAT32;
  const gradH = m * d * FLOAT32;
  const logits = rows * C * FLOAT32;
  return {
    rows,
    chunks,
    grad_W: gradW,
    grad_h: gradH,
    logits,
    fused: gradW + gradH + logits,
    plain: 3 * m * C * FLOAT32,
    fused_traffic: chunks * 4 * C * d * FLOAT32,
    plain_traffic: 3 * C * d * FLOAT32,
    budget: budgetChunk(m, d),
    liger: ligerChunk(m, d, C),
  };
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function describe({ tokens: m, chunk }, b) {
  const asked = chunk > m ? ` (${chunk} asked, more than m = ${m})` : "";
  const fraction = b.fused / b.plain;
  const verdict = fraction > 1 ? "MORE than the plain path: here the fused loss costs memory instead of saving it"
    : fraction > 0.1 ? "more than a tenth" : "at most a tenth";
  return `${b.rows}-row chunks${asked}: ${plural(b.chunks, "chunk")}, peak ${size(b.fused)} ` +
    `(the gradient of W ${size(b.grad_W)}, of h ${size(b.grad_h)}, one chunk of logits ` +
    `${size(b.logits)}) = ${times(fraction, "the plain path's")} ${size(b.plain)}, ${verdict}. The weight and its gradient move ${size(b.fused_traffic)} per forward and backward pass, ` +
    `${fmt(b.fused_traffic / b.plain_traffic)} times the plain path's ` +
    `${size(b.plain_traffic)}, counting W and its gradient only (the plain path also writes and reads ` +
    `its logits-sized buffers). Here the budget (d // 16 rows, at least 16, at most m) gives ` +
    `${plural(b.budget, "row")}, Liger Kernel's rule ${plural(b.liger, "row")}.`;
}

export function chunks(inputs) {
  const read = readInputs(inputs);
  if (read.problem) return { ok: false, message: read.problem, field: read.field };
  const { tokens: m, width: d, vocabulary: C, chunk } = read.numbers;
  const bytes = bill(m, d, C, chunk);
  return { ok: true, message: describe(read.numbers, bytes), bytes, fraction: bytes.fused / bytes.plain };
}

// What the harness compares with chunks.py's compute: the same keys, the same words.
export function compute(inputs) {
  const r = chunks(inputs);
  if (!r.ok) return { ok: false, message: r.message, format: "float64", values: {} };
  return { ok: true, message: r.message, format: "float64", values: { ...r.bytes, fraction: r.fraction } };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: the fused loss's peak in three parts on a scale of the plain path's peak (a tenth marked), and the
// weight traffic of both paths.

const PARTS = [
  ["grad_W", "gradient of W (C × d)"],
  ["grad_h", "gradient of h (m × d)"],
  ["logits", "one chunk of logits (chunk × C)"],
];

// The right end of the peak's scale, in fractions of the plain path's peak: 0.2, 0.5, 1, 2, 5, 10, ... (>= x).
function scaleEnd(x) {
  for (let power = 0.1; ; power *= 10) {
    for (const step of [2, 5, 10]) if (step * power >= x) return step * power;
  }
}

const percent = (x) => `${(100 * x).toFixed(3)}%`;

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "chunks", title: "Chunk size explorer" });
  const tokens = numberControl(controls, { id, name: "tokens", label: "Tokens m", min: 512, max: 65536, step: 512, example: "4096" });
  const width = numberControl(controls, { id, name: "width", label: "Model width d", min: 256, max: 16384, step: 256, example: "1024" });
  const vocabulary = numberControl(controls, { id, name: "vocabulary", label: "Vocabulary C", min: 1000, max: 262144, step: 1000, example: "32000" });
  // The chunk's slider moves by powers of two (each step halves or doubles the chunk); its field takes any size.
  const chunk = numberControl(controls, { id, name: "chunk", label: "Chunk rows", min: 0, max: 12, step: 1, example: "64" });
  chunk.slider.setAttribute("aria-label", "Chunk rows, a power of two (slider)");
  const numbers = [tokens, width, vocabulary];
  numbers.forEach((c) => bind(model, c));
  bind(model, { name: "chunk", text: chunk.text });
  const buttons = element("div", { class: "xent-row xent-chunks-rules" });
  const budget = element("button", { type: "button", id: `${id}-budget`, class: "xent-chunks-rule" });
  const liger = element("button", { type: "button", id: `${id}-liger`, class: "xent-chunks-rule" });
  buttons.append(element("span", { class: "xent-chunks-jump", text: "Jump to:" }), budget, liger);
  controls.append(buttons);

  // The two rules need only m, d and C: the buttons work even when the chunk field holds something unusable.
  const rules = () => {
    const read = readInputs(inputs(), ["tokens", "width", "vocabulary"]);
    if (read.problem) return null;
    const { tokens: m, width: d, vocabulary: C } = read.numbers;
    return { m, budget: budgetChunk(m, d), liger: ligerChunk(m, d, C) };
  };
  const setChunk = (rows) => {
    model.set("chunk", String(rows));
    model.save_changes();
  };
  chunk.slider.addEventListener("input", () => {
    const rule = rules();
    const rows = 2 ** Number(chunk.slider.value);
    setChunk(rule ? Math.min(rows, rule.m) : rows);
  });
  budget.addEventListener("click", () => { const rule = rules(); if (rule) setChunk(rule.budget); });
  liger.addEventListener("click", () => { const rule = rules(); if (rule) setChunk(rule.liger); });

  const peak = element("div", { class: "xent-chunks-chart", role: "img" });
  const traffic = element("div", { class: "xent-chunks-chart", role: "img" });
  figure.append(
    element("p", { class: "xent-chunks-title", text: "Peak memory, against the plain path's 3 m × C float32 numbers" }),
    peak,
    element("p", { class: "xent-chunks-title", text: "Bytes of W and its gradient read and written by the matrix products, one forward and backward pass" }),
    traffic,
  );

  function bar(key, fraction, left = 0) {
    return element("span", { class: `xent-chunks-bar xent-chunks-${key}`, style: `left: ${percent(left)}; width: ${percent(fraction)}` });
  }

  function mark(at, text, high = false) { // the label on the line's right, or on its left past the scale's middle
    const side = at >= 0.5 ? " xent-chunks-mark-left" : "";
    const row = high ? " xent-chunks-mark-high" : "";
    return element("span", { class: `xent-chunks-mark${side}${row}`, style: `left: ${percent(at)}` }, [element("span", { class: "xent-chunks-mark-label", text })]);
  }

  function drawPeak(b, fraction) {
    const end = scaleEnd(fraction);
    const track = element("span", { class: "xent-chunks-track xent-chunks-marked" });
    let left = 0;
    for (const [key] of PARTS) {
      const share = b[key] / b.plain / end;
      track.append(bar(key, share, left));
      left += share;
    }
    // Where the two marks are close (the scale reaches 5 times the plain path or more), the 0.1 mark's label sits a
    // row above the other's, so that neither label runs into the other mark.
    const close = end >= 5;
    track.classList.toggle("xent-chunks-two", close);
    track.append(mark(0.1 / end, "0.1", close));
    if (end >= 1) track.append(mark(1 / end, "1: plain path"));
    peak.setAttribute("aria-label", `Fused loss's peak ${size(b.fused)}, ${times(fraction, "the plain path's")} ${size(b.plain)}: ` +
      PARTS.map(([key, label]) => `${label} ${size(b[key])}`).join(", "));
    peak.replaceChildren(
      element("span", { class: "xent-chunks-label", text: "fused loss" }),
      track,
      element("span", { class: "xent-chunks-value", text: fmt(fraction) }),
      element("span", { class: "xent-chunks-axis" }, [element("span", { text: "0" }), element("span", { text: `${times(end, "the plain path")} (${size(b.plain)})` })]),
      element("span", { class: "xent-chunks-legend" }, PARTS.map(([key, label]) => element("span", {}, [
        element("span", { class: `xent-chunks-swatch xent-chunks-${key}` }), ` ${label}: ${size(b[key])}`,
      ]))),
    );
  }

  function drawTraffic(b) {
    const largest = Math.max(b.fused_traffic, b.plain_traffic);
    const rows = [
      ["fused_traffic", `fused, ${plural(b.chunks, "chunk")}`],
      ["plain_traffic", "plain path"],
    ];
    traffic.setAttribute("aria-label", rows.map(([key, label]) => `${label}: ${size(b[key])}`).join("; "));
    traffic.replaceChildren(...rows.flatMap(([key, label]) => [
      element("span", { class: "xent-chunks-label", text: label }),
      element("span", { class: "xent-chunks-track" }, [bar(key, b[key] / largest)]),
      element("span", { class: "xent-chunks-value", text: size(b[key]) }),
    ]));
  }

  function inputs() {
    return Object.fromEntries(INPUTS.map((k) => [k, model.get(k)]));
  }

  function update() {
    const now = inputs();
    const r = chunks(now);
    numbers.forEach((c) => show(c, now[c.name], !r.ok && r.field === c.name));
    report(root, message, now, r);
    if (r.ok) {
      drawPeak(r.bytes, r.fraction);
      drawTraffic(r.bytes);
    }
    const rule = rules();
    if (rule) chunk.slider.max = String(Math.ceil(Math.log2(rule.m)));
    budget.textContent = `budget d // 16${rule ? ` (${plural(rule.budget, "row")})` : ""}`;
    liger.textContent = `Liger Kernel's rule${rule ? ` (${plural(rule.liger, "row")})` : ""}`;
    budget.disabled = liger.disabled = !rule;
    if (document.activeElement !== chunk.text) chunk.text.value = String(now.chunk);
    chunk.text.setAttribute("aria-invalid", !r.ok && r.field === "chunk" ? "true" : "false");
    if (r.ok && document.activeElement !== chunk.slider) chunk.slider.value = String(Math.round(Math.log2(r.bytes.rows)));
    kernelNote(kernel, model, now, (a) => `peak ${size(fromJson(a.values.fused))} (${times(fromJson(a.values.fraction), "the plain path's")}), weight traffic ${size(fromJson(a.values.fused_traffic))}.`);
  }

  return live(model, [...INPUTS, "kernel"], update);
}

export default { render };
