// The overflow explorer's front end (an anywidget module).
//
// It recomputes naive and stable softmax in the browser, rounding every operation to the chosen format the way
// torch does on the CPU, so it stays live on a static page with no kernel. With a kernel, the Python side
// (xentbook/explorer.py) answers every change with torch's numbers, shown beside the browser's.

export const FORMATS = {
  float16: { mantissaBits: 10, minExponent: -14, max: 65504 },
  bfloat16: { mantissaBits: 7, minExponent: -126, max: 3.3895313892515355e38 },
  float32: { mantissaBits: 23, minExponent: -126, max: 3.4028234663852886e38 },
  float64: { mantissaBits: 52, minExponent: -1022, max: Number.MAX_VALUE },
};
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function roundHalfEven(v) {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// Round a double to the nearest value of a binary format (IEEE round-to-nearest-even, with subnormals).
export function roundTo(format, x) {
  if (format === "float64" || !Number.isFinite(x) || x === 0) return x;
  if (format === "float32") return Math.fround(x);
  const { mantissaBits, minExponent, max } = FORMATS[format];
  let exponent = Math.floor(Math.log2(Math.abs(x)));
  if (2 ** exponent > Math.abs(x)) exponent -= 1;
  if (2 ** (exponent + 1) <= Math.abs(x)) exponent += 1;
  const ulp = 2 ** (Math.max(exponent, minExponent) - mantissaBits);
  const rounded = roundHalfEven(x / ulp) * ulp;
  if (Math.abs(rounded) > max) return rounded > 0 ? Infinity : -Infinity;
  return rounded;
}

// One operation's result as torch gives it: half formats compute in float32, then round.
export function op(format, value) {
  if (format === "float16" || format === "bfloat16") return roundTo(format, Math.fround(value));
  return roundTo(format, value);
}

// A row sum as torch does it: half formats accumulate in float32.
function sum(format, values) {
  const accumulate = format === "float64" ? (x) => x : Math.fround;
  let total = 0;
  for (const v of values) total = accumulate(total + v);
  return op(format, total);
}

export function naiveSoftmax(format, logits) {
  const exps = logits.map((z) => op(format, Math.exp(z)));
  const total = sum(format, exps);
  const probs = exps.map((e) => op(format, e / total));
  return { exps, probs, logProbs: probs.map((p) => op(format, Math.log(p))) };
}

export function stableSoftmax(format, logits) {
  const largest = Math.max(...logits);
  const shifted = logits.map((z) => op(format, z - largest));
  const logSum = op(format, Math.log(sum(format, shifted.map((s) => op(format, Math.exp(s))))));
  const logProbs = shifted.map((s) => op(format, s - logSum));
  return { probs: logProbs.map((l) => op(format, Math.exp(l))), logProbs };
}

// The first value whose exp is inf in this format, by bisection over the format's values.
export function expOverflowThreshold(format) {
  let finite = 0;
  let infinite = FORMATS[format].max;
  for (;;) {
    const middle = roundTo(format, (finite + infinite) / 2);
    if (middle === finite || middle === infinite) break;
    if (op(format, Math.exp(middle)) === Infinity) infinite = middle;
    else finite = middle;
  }
  // Bisection stalls one value apart at most; settle on the first value that overflows.
  const next = nextUp(format, finite);
  return op(format, Math.exp(next)) === Infinity ? next : infinite;
}

function nextUp(format, x) {
  if (format === "float64") {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    view.setBigUint64(0, view.getBigUint64(0) + 1n);
    return view.getFloat64(0);
  }
  const exponent = Math.floor(Math.log2(Math.abs(x)));
  const { mantissaBits, minExponent } = FORMATS[format];
  return x + 2 ** (Math.max(exponent, minExponent) - mantissaBits);
}

// Python's "%g" with `digits` significant digits, so that the messages read the same in both languages.
export function fmt(x, digits = 4) {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const strip = (s) => (s.includes(".") ? s.replace(/\.?0+$/, "") : s);
  const [mantissa, exponentText] = x.toExponential(digits - 1).split("e");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= digits) {
    const sign = exponent < 0 ? "-" : "+";
    return `${strip(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  return strip(x.toFixed(Math.max(0, digits - 1 - exponent)));
}

export function parseNumber(value, name) {
  const text = String(value).trim();
  const lowered = text.toLowerCase().replace(/^[+-]+/, "");
  if (lowered === "nan") return { problem: `${name} is NaN (not a number): type a finite number such as 70.` };
  if (lowered === "inf" || lowered === "infinity") {
    return { problem: `${name} is infinite: type a finite number such as 70.` };
  }
  if (!NUMBER.test(text)) {
    return { problem: `${name} must be a number such as 70 or 1e4, not '${text.replace(/'/g, "\\'")}'.` };
  }
  const number = Number(text);
  if (!Number.isFinite(number)) {
    return { problem: `${name} ${text} is beyond any floating-point range: type a smaller number.` };
  }
  return { value: number };
}

function explain(format, logits, naive, naiveLoss, stableLoss, threshold, target) {
  const largest = Math.max(...logits);
  if (naive.exps.some((e) => e === Infinity)) {
    return (
      `exp(${fmt(largest)}) overflows ${format} (exp is inf from ${fmt(threshold, 16)} on), so the sum is inf: ` +
      `inf / inf = nan for each class whose exp overflowed, finite / inf = 0 for the others, naive loss ${fmt(naiveLoss)}. ` +
      `The stable one subtracts the largest logit first, so exp never sees more than 0: ` +
      `stable loss ${fmt(stableLoss)}.`
    );
  }
  if (naive.exps.every((e) => e === 0)) {
    return (
      `Every exp underflows to 0 in ${format} (the largest logit is ${fmt(largest)}): 0 / 0 = nan, so the naive ` +
      `softmax is nan. The stable one subtracts the largest logit first, so one exp is exactly 1: ` +
      `stable loss ${fmt(stableLoss)}.`
    );
  }
  if (naive.probs[target] === 0) {
    return (
      `The target's probability underflows to 0 in ${format}: -log 0 = inf, so the naive loss is inf. ` +
      `The stable one never takes the log of a rounded probability: stable loss ${fmt(stableLoss)}.`
    );
  }
  return (
    `Every exp is finite (largest logit ${fmt(largest)}, overflow from ${fmt(threshold, 16)}): naive and stable ` +
    `agree, loss ${fmt(naiveLoss)} and ${fmt(stableLoss)}.`
  );
}

// The browser's twin of xentbook.explorer.explore: same inputs, same numbers (to the format's rounding), same words.
export function explore({ scale, push, pushClass, format, base, target }) {
  if (!(format in FORMATS)) {
    return { format, ok: false, message: `format must be one of ${Object.keys(FORMATS).join(", ")}, not '${format}'.` };
  }
  const threshold = expOverflowThreshold(format);
  const refuse = (message) => ({ format, ok: false, message, threshold });
  const scaleValue = parseNumber(scale, "scale");
  if (scaleValue.problem) return refuse(scaleValue.problem);
  const pushValue = parseNumber(push, "push");
  if (pushValue.problem) return refuse(pushValue.problem);
  if (!Number.isInteger(pushClass) || pushClass < 0 || pushClass >= base.length) {
    return refuse(`the pushed class must be 0, 1 or 2, not ${pushClass}.`);
  }
  const values = base.map((b) => b * scaleValue.value);
  values[pushClass] += pushValue.value;
  const largestFinite = FORMATS[format].max;
  const tooBig = values.find((v) => Math.abs(v) > largestFinite);
  if (tooBig !== undefined) {
    return refuse(
      `a logit would be ${fmt(tooBig)}, past the largest ${format} (${fmt(largestFinite)}): ` +
        `choose a smaller scale or push.`,
    );
  }
  const logits = values.map((v) => op(format, v));
  const naive = naiveSoftmax(format, logits);
  const stable = stableSoftmax(format, logits);
  const naiveLoss = op(format, -naive.logProbs[target]);
  const stableLoss = op(format, -stable.logProbs[target]);
  return {
    format,
    ok: true,
    threshold,
    logits,
    naiveProbs: naive.probs,
    stableProbs: stable.probs,
    naiveLogProbs: naive.logProbs,
    stableLogProbs: stable.logProbs,
    naiveLoss,
    stableLoss,
    message: explain(format, logits, naive, naiveLoss, stableLoss, threshold, target),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The view.

const SLIDERS = {
  scale: { label: "Scale every logit by", min: 0, max: 100, step: 0.5 },
  push: { label: "then add to class", min: -200, max: 200, step: 1 },
};

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function fromJson(x) {
  if (x === "nan") return NaN;
  if (x === "inf") return Infinity;
  if (x === "-inf") return -Infinity;
  return x;
}

let instances = 0;

function render({ model, el }) {
  const id = `xent-ox-${(instances += 1)}`;
  const root = element("div", { class: "xent-ox", role: "group", "aria-label": "Overflow explorer" });
  const controls = element("div", { class: "xent-ox-controls" });
  const fields = {};

  const formatSelect = element("select", { id: `${id}-format` });
  for (const name of Object.keys(FORMATS)) formatSelect.append(element("option", { value: name, text: name }));
  controls.append(element("div", { class: "xent-ox-row" }, [
    element("label", { for: `${id}-format`, text: "Number format" }),
    formatSelect,
  ]));

  const classSelect = element("select", { id: `${id}-class`, "aria-label": "Class to push" });
  model.get("base").forEach((_, k) => classSelect.append(element("option", { value: String(k), text: `class ${k}` })));

  for (const [name, spec] of Object.entries(SLIDERS)) {
    const slider = element("input", {
      id: `${id}-${name}-slider`, type: "range", min: spec.min, max: spec.max, step: spec.step,
      "aria-label": `${spec.label} (slider)`,
    });
    const text = element("input", {
      id: `${id}-${name}`, type: "text", inputmode: "decimal", size: "9", spellcheck: "false",
      "aria-label": `${spec.label} (value)`,
    });
    fields[name] = { slider, text };
    const row = element("div", { class: "xent-ox-row" }, [element("label", { for: `${id}-${name}`, text: spec.label })]);
    if (name === "push") row.append(classSelect, element("span", { text: "by" }));
    row.append(slider, text);
    controls.append(row);
  }

  const logitsLine = element("div", { class: "xent-ox-logits" });
  const gauge = element("div", { class: "xent-ox-gauge", "aria-hidden": "true" }, [
    element("div", { class: "xent-ox-gauge-fill" }),
    element("div", { class: "xent-ox-gauge-mark" }),
  ]);
  const gaugeCaption = element("div", { class: "xent-ox-gauge-caption" });
  const table = element("table", { class: "xent-ox-table" });
  const chart = element("div", { class: "xent-ox-chart", role: "img" });
  const message = element("p", { class: "xent-ox-message", role: "status", "aria-live": "polite" });
  const kernelLine = element("p", { class: "xent-ox-kernel" });
  root.append(controls, logitsLine, gauge, gaugeCaption, table, chart, message, kernelLine);
  el.append(root);

  function inputs() {
    return {
      scale: model.get("scale"),
      push: model.get("push"),
      pushClass: model.get("push_class"),
      format: model.get("dtype"),
      base: model.get("base"),
      target: model.get("target"),
    };
  }

  function cell(tag, value, { loss = false } = {}) {
    const node = element(tag, { text: fmt(value) });
    if (!Number.isFinite(value)) node.className = "xent-ox-bad";
    if (loss) node.classList.add("xent-ox-loss");
    return node;
  }

  function drawTable(result) {
    const target = model.get("target");
    const header = element("tr", {}, [element("th", { text: "" })]);
    result.logits.forEach((_, k) => header.append(element("th", { text: k === target ? `p${k} (target)` : `p${k}` })));
    header.append(element("th", { text: "loss" }));
    const naiveRow = element("tr", { "data-row": "naive" }, [element("th", { text: "naive" })]);
    result.naiveProbs.forEach((p) => naiveRow.append(cell("td", p)));
    naiveRow.append(cell("td", result.naiveLoss, { loss: true }));
    const stableRow = element("tr", { "data-row": "stable" }, [element("th", { text: "stable" })]);
    result.stableProbs.forEach((p) => stableRow.append(cell("td", p)));
    stableRow.append(cell("td", result.stableLoss, { loss: true }));
    table.replaceChildren(element("thead", {}, [header]), element("tbody", {}, [naiveRow, stableRow]));
  }

  function drawChart(result) {
    const bars = result.logits.map((_, k) => {
      const naive = result.naiveProbs[k];
      const stable = result.stableProbs[k];
      const bar = (kind, p) =>
        element("div", { class: `xent-ox-bar xent-ox-bar-${kind}`, title: `${kind} p${k} = ${fmt(p)}` }, [
          element("div", { class: "xent-ox-bar-fill", style: `height: ${Number.isFinite(p) ? p * 100 : 0}%` }),
          element("span", { class: Number.isFinite(p) ? "" : "xent-ox-bad", text: Number.isFinite(p) ? "" : fmt(p) }),
        ]);
      return element("div", { class: "xent-ox-class" }, [
        element("div", { class: "xent-ox-pair" }, [bar("naive", naive), bar("stable", stable)]),
        element("div", { class: "xent-ox-class-label", text: `class ${k}` }),
      ]);
    });
    chart.setAttribute("aria-label", `Probabilities, naive then stable: ${result.logits
      .map((_, k) => `class ${k} ${fmt(result.naiveProbs[k])} and ${fmt(result.stableProbs[k])}`)
      .join("; ")}`);
    chart.replaceChildren(
      element("div", { class: "xent-ox-legend" }, [
        element("span", { class: "xent-ox-key xent-ox-bar-naive", text: "naive" }),
        element("span", { class: "xent-ox-key xent-ox-bar-stable", text: "stable" }),
      ]),
      element("div", { class: "xent-ox-bars" }, bars),
    );
  }

  function drawGauge(result) {
    const largest = Math.max(...result.logits);
    const span = result.threshold * 1.5;
    const fill = gauge.querySelector(".xent-ox-gauge-fill");
    fill.style.width = `${Math.max(0, Math.min(100, (largest / span) * 100))}%`;
    fill.classList.toggle("xent-ox-over", largest >= result.threshold);
    gauge.querySelector(".xent-ox-gauge-mark").style.left = `${(1 / 1.5) * 100}%`;
    gaugeCaption.textContent =
      `largest logit ${fmt(largest)}; ${result.format} exp overflows from ${fmt(result.threshold, 16)}` +
      (largest >= result.threshold ? " (past it)" : "");
  }

  function drawKernel() {
    const answer = model.get("kernel");
    const now = inputs();
    const same =
      answer && answer.inputs && answer.inputs.scale === now.scale && answer.inputs.push === now.push &&
      answer.inputs.push_class === now.pushClass && answer.inputs.dtype === now.format;
    if (!same) {
      kernelLine.textContent = "Computed in your browser, with the format's rounding (no Python kernel behind this page).";
      return;
    }
    kernelLine.textContent = answer.ok
      ? `torch's answer for these inputs: naive loss ${fmt(fromJson(answer.naive_loss))}, stable loss ${fmt(fromJson(answer.stable_loss))}.`
      : `torch's answer for these inputs: ${answer.message}`;
  }

  function update() {
    const now = inputs();
    const result = explore(now);
    formatSelect.value = now.format;
    classSelect.value = String(now.pushClass);
    const parsed = Object.fromEntries(Object.keys(SLIDERS).map((name) => [name, parseNumber(model.get(name), name)]));
    const outOfRange = !result.ok && Object.values(parsed).every((p) => !p.problem);
    for (const name of Object.keys(SLIDERS)) {
      const { slider, text } = fields[name];
      if (document.activeElement !== text) text.value = model.get(name);
      text.setAttribute("aria-invalid", parsed[name].problem || outOfRange ? "true" : "false");
      if (!parsed[name].problem && document.activeElement !== slider) slider.value = String(parsed[name].value);
    }
    // Full-precision results for readers' tools and the book's browser tests (the table shows 4 digits).
    root.dataset.ok = String(result.ok);
    root.dataset.naiveLoss = String(result.naiveLoss);
    root.dataset.stableLoss = String(result.stableLoss);
    root.classList.toggle("xent-ox-invalid", !result.ok);
    message.textContent = result.message;
    message.classList.toggle("xent-ox-error", !result.ok);
    if (result.ok) {
      logitsLine.textContent = `${result.format} logits [${result.logits.map((z) => fmt(z)).join(", ")}], target class ${now.target}`;
      drawGauge(result);
      drawTable(result);
      drawChart(result);
    }
    drawKernel();
    return result;
  }

  function change(name, value) {
    model.set(name, value);
    model.save_changes();
  }

  for (const name of Object.keys(SLIDERS)) {
    const { slider, text } = fields[name];
    slider.addEventListener("input", () => change(name, slider.value));
    text.addEventListener("input", () => change(name, text.value));
  }
  formatSelect.addEventListener("change", () => change("dtype", formatSelect.value));
  classSelect.addEventListener("change", () => change("push_class", Number(classSelect.value)));

  const names = ["scale", "push", "push_class", "dtype", "kernel"];
  for (const name of names) model.on(`change:${name}`, update);
  update();
  return () => {
    for (const name of names) model.off(`change:${name}`, update);
  };
}

export default { render };
