// Chapter 2's explorable (softmax.py computes the same with torch): three logits, a temperature and a constant
// added to every logit; chapter 2's softmax as bars, every operation rounded to float32.
import { expOverflowThreshold, sum } from "./formats.js";
import { bind, capital, element, fmt, frame, fromJson, kernelNote, live, numberControl, parseNumber, report, show } from "./ui.js";

const f = Math.fround;
const NAMES = { z0: "logit 0", z1: "logit 1", z2: "logit 2", temperature: "temperature", shift: "the added constant" };
const MOVED = 1e-3;
const FLOAT32_MAX = 3.4028234663852886e38;

// Chapter 2's softmax: exp(x) divided by its sum, in float32.
export function softmax(x) {
  const exps = x.map((v) => f(Math.exp(v)));
  const total = sum("float32", exps);
  return exps.map((e) => f(e / total));
}

function explain(scaled, shifted, probs, shiftedProbs, temperature, shift) {
  const TINY = 2 ** -126; // float32's smallest normal number
  const first = [];
  const subnormal = [];
  let zero = false;
  for (const [name, z] of [["logits / T", scaled], ["(logits + c) / T", shifted]]) {
    const exps = z.map((v) => f(Math.exp(v)));
    const largest = fmt(Math.max(...z));
    if (exps.some((e) => e === Infinity)) {
      first.push(
        `exp overflows float32 for ${name} (largest ${largest}, exp is inf from ` +
        `${fmt(expOverflowThreshold("float32"), 16)} on): inf / inf = nan.`,
      );
    } else if (sum("float32", exps) === Infinity) {
      first.push(
        `no exp overflows for ${name} (largest ${largest}), but their sum passes float32's largest number ` +
        `${fmt(FLOAT32_MAX)} and is inf: every probability is finite / inf = 0.`,
      );
    } else if (exps.every((e) => e === 0)) {
      first.push(`every exp underflows to 0 for ${name} (largest ${largest}): 0 / 0 = nan.`);
    } else if (Math.max(...exps) < TINY) { // every exp subnormal (or 0): they keep fewer significant digits
      const some = exps.some((e) => e === 0) ? " or 0" : "";
      zero = zero || Boolean(some);
      subnormal.push(`every exp of ${name} is subnormal${some} (the largest of ${name} is ${largest})`);
    }
  }
  if (first.length) {
    return (
      `Chapter 2's softmax fails: ${first.join(" ")} Mathematically nothing moved; chapter 4 subtracts the ` +
      `largest logit first, and this failure goes away.`
    );
  }
  const top = probs.indexOf(Math.max(...probs));
  const temper = `At temperature ${fmt(temperature)} the largest probability is ${fmt(probs[top])} (class ${top})`;
  const moved = Math.max(...probs.map((p, k) => Math.abs(f(shiftedProbs[k] - p))));
  if (shift === 0) return `${temper}. Set the added constant c to add it to every logit and compare the bars.`;
  if (moved <= MOVED) {
    return (
      `${temper}. Adding ${fmt(shift)} to every logit moved no probability by more than ${MOVED}: softmax ` +
      `depends only on the differences between the logits.`
    );
  }
  const movedBy = `${temper}. Adding ${fmt(shift)} to every logit moved a probability by ${fmt(moved, 2)}`;
  if (!subnormal.length) return `${movedBy}.`; // not reached: in float32, rounding alone moves a probability by far less
  return (
    `${movedBy}: ${subnormal.join(", and ")}. Below float32's smallest normal number, ${fmt(TINY)} (exp(x) ` +
    `for x < ${fmt(Math.log(TINY))}), numbers are subnormal and keep fewer significant digits` +
    `${zero ? " (0 keeps none)" : ""}, so these exps' ratios, the probabilities, are off.`
  );
}

// The twin of softmax.py's explore.
export function compute(inputs) {
  const refuse = (message) => ({ ok: false, message, format: "float32", values: {} });
  const value = {};
  for (const name of Object.keys(NAMES)) {
    const parsed = parseNumber(inputs[name], NAMES[name], "2");
    if (parsed.problem) return refuse(capital(parsed.problem));
    value[name] = parsed.value;
  }
  const big = Object.keys(NAMES).find((n) => Math.abs(value[n]) > FLOAT32_MAX);
  if (big) return refuse(`${capital(NAMES[big])} ${fmt(value[big])} is past the largest float32: type a smaller number.`);
  if (value.temperature <= 0) {
    return refuse(`The temperature must be positive (it divides the logits), not ${fmt(value.temperature)}.`);
  }
  const logits = [value.z0, value.z1, value.z2].map(f);
  const temperature = f(value.temperature);
  const scaled = logits.map((z) => f(z / temperature));
  const shifted = logits.map((z) => f(f(z + f(value.shift)) / temperature));
  const probs = softmax(scaled);
  const shiftedProbs = softmax(shifted);
  return {
    ok: true, format: "float32",
    message: explain(scaled, shifted, probs, shiftedProbs, value.temperature, value.shift),
    values: { scaled, shifted, probs, shifted_probs: shiftedProbs },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The view: each class's probability as two bars, before and after adding the constant.

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "softmax", title: "Softmax explorer" });
  const fields = [
    numberControl(controls, { id, name: "z0", label: "Logit 0", min: -10, max: 10, step: 0.1, example: "2" }),
    numberControl(controls, { id, name: "z1", label: "Logit 1", min: -10, max: 10, step: 0.1, example: "2" }),
    numberControl(controls, { id, name: "z2", label: "Logit 2", min: -10, max: 10, step: 0.1, example: "2" }),
    numberControl(controls, { id, name: "temperature", label: "Temperature T", min: 0.1, max: 5, step: 0.05, example: "2" }),
    numberControl(controls, { id, name: "shift", label: "Add to every logit", min: -100, max: 100, step: 1, example: "2" }),
  ];
  fields.forEach((c) => bind(model, c));
  const bars = element("div", { class: "xent-softmax-bars", role: "img" });
  const legend = element("div", { class: "xent-softmax-legend" }, [
    element("span", { class: "xent-softmax-key xent-softmax-before", text: "softmax(z / T)" }),
    element("span", { class: "xent-softmax-key xent-softmax-after", text: "softmax((z + c) / T)" }),
  ]);
  figure.append(legend, bars);

  function bar(kind, p) {
    const ok = Number.isFinite(p);
    return element("div", { class: `xent-softmax-bar xent-softmax-${kind}` }, [
      element("div", { class: "xent-softmax-fill", style: `height: ${ok ? p * 100 : 0}%` }),
      element("span", { class: ok ? "xent-softmax-value" : "xent-softmax-value xent-bad", text: fmt(p, 2) }),
    ]);
  }

  function draw(r) {
    const { probs, shifted_probs: after } = r.values;
    bars.setAttribute("aria-label", `Probabilities before and after adding the constant: ${probs.map((p, k) =>
      `class ${k} ${fmt(p)} and ${fmt(after[k])}`).join("; ")}`);
    bars.replaceChildren(...probs.map((p, k) => element("div", { class: "xent-softmax-class" }, [
      element("div", { class: "xent-softmax-pair" }, [bar("before", p), bar("after", after[k])]),
      element("div", { class: "xent-softmax-label", text: `class ${k}` }),
    ])));
  }

  function update() {
    const inputs = Object.fromEntries(Object.keys(NAMES).map((k) => [k, model.get(k)]));
    const r = compute(inputs);
    // The one field that is wrong, checked in compute's order: not a number, past float32, a temperature <= 0.
    const problem = !r.ok && (fields.find((c) => parseNumber(inputs[c.name], c.name).problem) ??
      fields.find((c) => Math.abs(Number(inputs[c.name])) > FLOAT32_MAX) ?? fields.find((c) => c.name === "temperature"));
    fields.forEach((c) => show(c, inputs[c.name], c === problem));
    report(root, message, inputs, r);
    if (r.ok) draw(r);
    kernelNote(kernel, model, inputs, (a) =>
      `probabilities [${a.values.shifted_probs.map((p) => fmt(fromJson(p))).join(", ")}] after adding the constant.`);
  }

  return live(model, [...Object.keys(NAMES), "kernel"], update);
}

export default { render };
