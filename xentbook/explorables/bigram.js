// Chapter 13's explorable: add-k smoothing and temperature move a character bigram model's validation cross
// entropy, perplexity and bits per character; a line sampled at the chosen temperature shows what they mean.
//
// compute() is the browser's twin of bigram.py's compute (torch's F.cross_entropy over the validation stream, in
// float64, shown rounded to float32): here the same loss is summed over the validation bigram counts saved in the
// widget state, in float64, then rounded to float32. The sampled line uses this file's own seeded generator: it is
// an illustration, not torch's sample.

import { op } from "./formats.js";
import { bind, element, fmt, frame, fromJson, kernelNote, live, numberControl, parseNumber, report, show } from "./ui.js";

const F = "float32";
const MAX_K = 1e6;
const MAX_TEMPERATURE = 100;
export const INPUTS = ["k", "temperature"];

function readInputs(inputs) {
  const k = parseNumber(inputs.k, "The smoothing k", "1");
  if (k.problem) return { problem: k.problem, field: "k" };
  if (!(k.value >= 0 && k.value <= MAX_K)) return { problem: `The smoothing k must be from 0 to ${fmt(MAX_K)}, not ${fmt(k.value)}.`, field: "k" };
  const t = parseNumber(inputs.temperature, "The temperature", "1");
  if (t.problem) return { problem: t.problem, field: "temperature" };
  if (!(t.value > 0 && t.value <= MAX_TEMPERATURE)) {
    return { problem: `The temperature must be above 0 and at most ${MAX_TEMPERATURE}, not ${fmt(t.value)}.`, field: "temperature" };
  }
  return { k: k.value, temperature: t.value };
}

function describe(k, temperature, loss, perplexity, bits, unseen, C) {
  if (loss === Infinity) {
    return `Add-k smoothing with k = 0 gives probability 0 to ${unseen} validation characters whose bigram training never saw: ` +
      "each costs -log 0 = inf nats, so the validation cross entropy is inf. Any k > 0 makes it finite.";
  }
  return `With k = ${fmt(k)}, T = ${fmt(temperature)}: validation cross entropy ${fmt(loss)} nats per character, ` +
    `perplexity ${fmt(perplexity)} (as unsure as a uniform choice among ${fmt(perplexity)} characters), ` +
    `${fmt(bits)} bits per character. A uniform guess over the C = ${C} characters scores ` +
    `ln ${C} = ${fmt(Math.log(C))} nats.`;
}

// The model's log-probabilities, row a = the previous character: log softmax(log(n[a] + k) / T), in float64.
function logProbTable(counts, C, k, temperature) {
  const table = [];
  for (let a = 0; a < C; a++) {
    const z = [];
    for (let b = 0; b < C; b++) z.push(Math.log(counts[a * C + b] + k) / temperature);
    const largest = Math.max(...z);
    const logSum = largest + Math.log(z.reduce((total, v) => total + Math.exp(v - largest), 0));
    table.push(z.map((v) => v - logSum));
  }
  return table;
}

export function bigram(inputs, state) {
  const read = readInputs(inputs);
  if (read.problem) return { ok: false, message: read.problem, field: read.field };
  const { k, temperature } = read;
  const C = state.vocabulary.length;
  const train = state.train_counts;
  const validation = state.validation_counts;
  const table = logProbTable(train, C, k, temperature);
  let total = 0;
  let count = 0;
  let unseen = 0;
  for (let a = 0; a < C; a++) {
    for (let b = 0; b < C; b++) {
      const n = validation[a * C + b];
      if (n === 0) continue;
      total -= n * table[a][b];
      count += n;
      if (train[a * C + b] === 0) unseen += n;
    }
  }
  const loss64 = total / count;
  const loss = op(F, loss64);
  const perplexity = op(F, Math.exp(loss64));
  const bits = op(F, loss64 / Math.LN2);
  const message = describe(k, temperature, loss, perplexity, bits, k === 0 ? unseen : 0, C);
  return { ok: true, message, k, temperature, C, table, loss, perplexity, bits };
}

// What the harness compares with torch (bigram.py's compute): the same keys, the same words.
export function compute(inputs, state) {
  const r = bigram(inputs, state);
  if (!r.ok) return { ok: false, message: r.message, format: F, values: {} };
  return { ok: true, message: r.message, format: F, values: { loss: r.loss, perplexity: r.perplexity, bits: r.bits } };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: the three numbers as bars against the uniform guess, and one line sampled from the model.

// A small seeded generator (mulberry32): the same line for the same settings, in this browser.
function generator(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Names sampled one character at a time from the model, starting after a newline, until about `longest`
// characters: shown separated by " / ".
function sampleLine(table, vocabulary, seed = 13, longest = 60) {
  const random = generator(seed);
  const newline = vocabulary.indexOf("\n");
  let previous = newline;
  let line = "";
  while (line.length < longest) {
    const u = random();
    let cumulative = 0;
    let next = table[previous].length - 1;
    for (let b = 0; b < table[previous].length; b++) {
      cumulative += Math.exp(table[previous][b]);
      if (u < cumulative) {
        next = b;
        break;
      }
    }
    line += next === newline ? " / " : vocabulary[next];
    previous = next;
  }
  return line;
}

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "bigram", title: "Bigram smoothing and temperature explorer" });
  const k = numberControl(controls, { id, name: "k", label: "add-k smoothing k", min: 0, max: 5, step: 0.01, example: "1" });
  const temperature = numberControl(controls, { id, name: "temperature", label: "Temperature T", min: 0.1, max: 3, step: 0.05, example: "1" });
  bind(model, k);
  bind(model, temperature);

  const bars = element("div", { class: "xent-bigram-bars", role: "img" });
  const sample = element("p", { class: "xent-bigram-sample" });
  figure.append(bars, element("p", { class: "xent-bigram-caption", text: "Names sampled at this temperature, separated by / (illustrative: the browser's own seeded generator, not torch's):" }), sample);

  function drawBars(r, C) {
    const uniformBits = Math.log2(C);
    const rows = [
      ["this model", r.bits],
      [`uniform over ${C}`, uniformBits],
    ];
    const widest = Math.max(uniformBits, Number.isFinite(r.bits) ? r.bits : 0) * 1.05;
    bars.setAttribute("aria-label", `Bits per character: this model ${fmt(r.bits)}, a uniform guess over ${C} characters ${fmt(uniformBits)}`);
    bars.replaceChildren(...rows.map(([label, value]) => element("div", { class: "xent-bigram-row" }, [
      element("span", { class: "xent-bigram-label", text: label }),
      element("span", { class: "xent-bigram-track" }, [
        element("span", { class: "xent-bigram-bar", style: `width: ${Number.isFinite(value) ? (100 * value) / widest : 100}%` }),
      ]),
      element("span", { class: "xent-bigram-value", text: `${fmt(value)} bits` }),
    ])));
  }

  function inputs() {
    return Object.fromEntries(INPUTS.map((name) => [name, model.get(name)]));
  }

  function update() {
    const now = inputs();
    const state = { vocabulary: model.get("vocabulary"), train_counts: model.get("train_counts"), validation_counts: model.get("validation_counts") };
    const r = bigram(now, state);
    show(k, now.k, !r.ok && r.field === "k");
    show(temperature, now.temperature, !r.ok && r.field === "temperature");
    report(root, message, now, r);
    if (r.ok) {
      drawBars(r, r.C);
      sample.textContent = `“${sampleLine(r.table, state.vocabulary)}”`;
    }
    kernelNote(kernel, model, now, (a) => `loss ${fmt(fromJson(a.values.loss))} nats, perplexity ${fmt(fromJson(a.values.perplexity))}.`);
  }

  return live(model, [...INPUTS, "kernel"], update);
}

export default { render };
