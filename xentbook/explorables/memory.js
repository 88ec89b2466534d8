// Chapter 10's explorable: tokens, vocabulary, format, chunk size and width -> the bytes of the plain, chunked and
// fused losses. compute() is the twin of memory.py's compute: the chapter's formulas, the same integers, the same
// words (doubles hold these byte counts exactly: they stay far below 2^53).

import { bind, element, fmt, frame, fromJson, kernelNote, live, numberControl, report, selectControl, show, size, times, wholeNumbers } from "./ui.js";

const BYTES = { float32: 4, bfloat16: 2, float16: 2 };
const LIMITS = { tokens: 2 ** 24, vocabulary: 2 ** 22, chunk: 2 ** 24, width: 2 ** 16 };
const NAMES = { tokens: "the number of tokens m", vocabulary: "the vocabulary C", chunk: "the chunk size", width: "the model width d" };
const EXAMPLES = { tokens: "8192", vocabulary: "128256", chunk: "1024", width: "4096" };
export const INPUTS = ["tokens", "vocabulary", "dtype", "chunk", "width"];

function readInputs(inputs) {
  const read = wholeNumbers(inputs, ["tokens", "vocabulary", "chunk", "width"], NAMES, EXAMPLES, LIMITS);
  if (read.problem) return read;
  if (!(inputs.dtype in BYTES)) {
    return { problem: `The format must be one of ${Object.keys(BYTES).join(", ")}, not '${inputs.dtype}'.`, field: "dtype" };
  }
  return read;
}

export function memory(inputs) {
  const read = readInputs(inputs);
  if (read.problem) return { ok: false, message: read.problem, field: read.field };
  const { tokens: m, vocabulary: C, chunk, width: d } = read.numbers;
  const b = BYTES[inputs.dtype];
  const rows = Math.min(chunk, m);
  const buffer = m * C * b;
  const half = b < 4; // float16 and bfloat16 are computed in float32
  const bytes = {
    logits: buffer,
    plain: 3 * buffer,
    chunked: buffer + (half ? rows * C * 4 : 0),
    fused: rows * C * 4 + (m + C) * d * 4 * (half ? 2 : 1),
  };
  const inFloat32 = half ? `, plus one float32 chunk of ${rows} rows to compute in` : "";
  const copies = half ? " and float32 copies of h and W" : "";
  const message = `${m} tokens × ${C} classes × ${b} bytes (${inputs.dtype}): the logits take ` +
    `${size(bytes.logits)}, one buffer. Beyond them, F.cross_entropy's forward and backward peak at 3 ` +
    `buffers, ${size(bytes.plain)}; the chunked loss at 1, the gradient itself${inFloat32}, ` +
    `${size(bytes.chunked)}. Chapter 11's fused linear cross entropy with ${rows}-row chunks and width ` +
    `d = ${d} never makes the logits: one float32 chunk of logits plus the float32 gradients of h and ` +
    `W${copies}, ${size(bytes.fused)}, ${times(bytes.fused / bytes.logits, "one buffer")}${beyond(bytes)}.`;
  return { ok: true, message, bytes };
}

// When the fused loss needs more memory than another path, the words say so (memory.py's beyond).
function beyond(bytes) {
  if (bytes.fused > bytes.plain) return ": MORE than F.cross_entropy's 3 buffers, so here the fused loss costs memory instead of saving it";
  if (bytes.fused > bytes.chunked) return ": more than the chunked loss needs here";
  return "";
}

// What the harness compares with memory.py's compute: the same keys, the same words.
export function compute(inputs) {
  const r = memory(inputs);
  if (!r.ok) return { ok: false, message: r.message, format: "float64", values: {} };
  return { ok: true, message: r.message, format: "float64", values: r.bytes };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: one horizontal bar per method, the logits' own buffer as the unit.

const BARS = [
  ["logits", "the logits (m × C)"],
  ["plain", "F.cross_entropy, peak"],
  ["chunked", "chunked loss, peak"],
  ["fused", "fused linear loss (ch. 11), peak"],
];

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "memory", title: "Memory explorer" });
  const tokens = numberControl(controls, { id, name: "tokens", label: "Tokens m", min: 512, max: 65536, step: 512, example: "8192" });
  const vocabulary = numberControl(controls, { id, name: "vocabulary", label: "Vocabulary C", min: 1000, max: 262144, step: 1000, example: "128256" });
  const dtype = selectControl(controls, { id, name: "dtype", label: "Number format", options: Object.keys(BYTES).map((f) => [f, `${f} (${BYTES[f]} bytes)`]) });
  const chunk = numberControl(controls, { id, name: "chunk", label: "Chunk rows", min: 64, max: 8192, step: 64, example: "1024" });
  const width = numberControl(controls, { id, name: "width", label: "Model width d", min: 256, max: 16384, step: 256, example: "4096" });
  const numbers = [tokens, vocabulary, chunk, width];
  numbers.forEach((c) => bind(model, c));
  bind(model, dtype);
  const chart = element("div", { class: "xent-memory-chart", role: "img" });
  figure.append(chart);

  function drawChart(r) {
    const largest = Math.max(...Object.values(r.bytes));
    chart.setAttribute("aria-label", BARS.map(([key, label]) => `${label}: ${size(r.bytes[key])}`).join("; "));
    chart.replaceChildren(...BARS.map(([key, label]) => element("div", { class: "xent-memory-row" }, [
      element("span", { class: "xent-memory-label", text: label }),
      element("span", { class: "xent-memory-track" }, [
        element("span", { class: `xent-memory-bar xent-memory-${key}`, style: `width: ${(r.bytes[key] / largest) * 100}%` }),
      ]),
      element("span", { class: "xent-memory-value", text: size(r.bytes[key]) }),
    ])));
  }

  function inputs() {
    return Object.fromEntries(INPUTS.map((k) => [k, model.get(k)]));
  }

  function update() {
    const now = inputs();
    const r = memory(now);
    numbers.forEach((c) => show(c, now[c.name], !r.ok && r.field === c.name));
    show(dtype, now.dtype);
    report(root, message, now, r);
    if (r.ok) drawChart(r);
    kernelNote(kernel, model, now, (a) => `F.cross_entropy ${size(fromJson(a.values.plain))}, chunked ${size(fromJson(a.values.chunked))}, fused ${size(fromJson(a.values.fused))}.`);
  }

  return live(model, [...INPUTS, "kernel"], update);
}

export default { render };
