// The overflow explorer's front end (an anywidget module; base.py inlines the two imports below).
//
// It recomputes naive and stable softmax in the browser, rounding every operation to the chosen format the way
// torch does on the CPU, so it stays live on a static page with no kernel. With a kernel, the Python side
// (overflow.py) answers every change with torch's numbers, shown beside the browser's. Both name the first step of
// the naive computation that fails, in the same words.
import { FORMATS, expOverflowThreshold, op, sum, ulpOf } from "./formats.js";
import { bind, element, fitTable, fmt, frame, fromJson, kernelNote, live, numberControl, parseNumber, selectControl, show } from "./ui.js";

const AGREE_ULPS = 4;

export function naiveSoftmax(format, logits) {
  const exps = logits.map((z) => op(format, Math.exp(z)));
  const total = sum(format, exps);
  const probs = exps.map((e) => op(format, e / total));
  return { exps, total, probs, logProbs: probs.map((p) => op(format, Math.log(p))) };
}

export function stableSoftmax(format, logits) {
  const largest = Math.max(...logits);
  const shifted = logits.map((z) => op(format, z - largest));
  const logSum = op(format, Math.log(sum(format, shifted.map((s) => op(format, Math.exp(s))))));
  const logProbs = shifted.map((s) => op(format, s - logSum));
  return { probs: logProbs.map((l) => op(format, Math.exp(l))), logProbs };
}

// The format's smallest positive (subnormal) number and its smallest normal one ("tiny").
export function smallest(format) {
  const { mantissaBits, minExponent } = FORMATS[format];
  return { subnormal: 2 ** (minExponent - mantissaBits), tiny: 2 ** minExponent };
}

const ulpsApart = (format, a, b) => Math.abs(a - b) / ulpOf(format, b);

// The twin of overflow.py's explain: [diagnosis, message].
function explain(format, logits, naive, naiveLoss, stable, stableLoss, threshold, target) {
  const largest = Math.max(...logits);
  const { exps, total, probs } = naive;
  const stableWords =
    `The stable one subtracts the largest logit first, so exp never sees more than 0, and never takes the log ` +
    `of a rounded probability: log p${target} = ${fmt(stable.logProbs[target])}, stable loss ${fmt(stableLoss)}.`;
  const overflowed = exps.flatMap((e, k) => (e === Infinity ? [k] : []));
  if (overflowed.length) {
    const k = overflowed.includes(target) ? target : overflowed[0];
    const where = `exp(${fmt(logits[k])}) overflows ${format} (exp is inf from ${fmt(threshold, 16)} on)`;
    if (k === target) {
      return ["overflow-target",
        `First failure, exp: ${where} at the target, class ${target}. The row sum is inf too, so ` +
        `p${target} = inf / inf = nan and the naive loss is nan. ` + stableWords];
    }
    return ["overflow-other",
      `First failure, exp: ${where} at class ${k}, not the target. The row sum is inf, so ` +
      `p${target} = ${fmt(exps[target])} / inf = 0 and the naive loss is -log 0 = inf. ` + stableWords];
  }
  if (total === Infinity) {
    return ["sum-overflow",
      `First failure, the row sum: no exp overflows (largest logit ${fmt(largest)}, overflow from ` +
      `${fmt(threshold, 16)}), but their sum passes ${format}'s largest number ${fmt(FORMATS[format].max)} and is inf, so ` +
      `p${target} = ${fmt(exps[target])} / inf = 0 and the naive loss is -log 0 = inf. ` + stableWords];
  }
  if (total === 0) {
    return ["all-underflow",
      `First failure, exp: every exp underflows to 0 in ${format} (the largest logit is ${fmt(largest)}), ` +
      `so the row sum is 0 and p = 0 / 0 = nan: the naive softmax and loss are nan. ` + stableWords];
  }
  const { subnormal, tiny } = smallest(format);
  if (probs[target] === 0) {
    const why =
      `Its true log is ${fmt(stable.logProbs[target])}, below log of the smallest ${format} number ` +
      `(${fmt(Math.log(subnormal))}), so the naive loss is -log 0 = inf. ` + stableWords;
    if (exps[target] === 0) {
      return ["target-exp-underflow",
        `First failure, exp: exp(${fmt(logits[target])}) underflows to 0 in ${format} at the target, class ` +
        `${target}, so p${target} = 0 / ${fmt(total)} = 0. ` + why];
    }
    return ["target-underflow",
      `First failure, the division: the target's exp, exp(${fmt(logits[target])}), is not 0, but ` +
      `p${target} = exp(${fmt(logits[target])}) / ${fmt(total)} underflows to 0 in ${format}. ` + why];
  }
  let pair = `naive loss ${fmt(naiveLoss)}, stable loss ${fmt(stableLoss)}`;
  if (ulpsApart(format, naiveLoss, stableLoss) > AGREE_ULPS) {
    pair += `, apart by ${fmt(Math.abs(naiveLoss - stableLoss), 2)}`;
    if (exps[target] < tiny) {
      return ["subnormal-exp-disagree",
        `Naive and stable disagree (${pair}): the target's exp, exp(${fmt(logits[target])}), is subnormal in ` +
        `${format} (below ${fmt(tiny)}), where fewer bits are left for it, so p${target} = ` +
        `${fmt(probs[target])} and its log are off. The stable loss never rounds a probability.`];
    }
    if (probs[target] < tiny) {
      return ["subnormal-disagree",
        `Naive and stable disagree (${pair}): the division rounds the target's probability to ` +
        `${fmt(probs[target])}, subnormal in ${format} (below ${fmt(tiny)}), where fewer bits are left for ` +
        `it, so its log is off. The stable loss never rounds a probability.`];
    }
    return ["rounding",
      `Naive and stable disagree by more than ${AGREE_ULPS} ulps of ${format} (${pair}): the naive loss takes ` +
      `the log of p${target} = ${fmt(probs[target])} after it was rounded to ${format}. ` +
      `The stable loss never rounds a probability.`];
  }
  return ["agree",
    `Every step is finite (largest logit ${fmt(largest)}, overflow from ${fmt(threshold, 16)}; target's ` +
    `probability ${fmt(probs[target])}): naive and stable agree to within ${AGREE_ULPS} ulps of ${format}, ${pair}.`];
}

// The browser's twin of overflow.py's explore: same inputs, same numbers (to the format's rounding), same words.
export function explore({ scale, push, push_class: pushClass, target, dtype: format }, base) {
  if (!(format in FORMATS)) {
    return { format, ok: false, message: `The format must be one of ${Object.keys(FORMATS).join(", ")}, not '${format}'.` };
  }
  const threshold = expOverflowThreshold(format);
  const refuse = (message) => ({ format, ok: false, message, threshold });
  const scaleValue = parseNumber(scale, "scale");
  if (scaleValue.problem) return refuse(scaleValue.problem);
  const pushValue = parseNumber(push, "push");
  if (pushValue.problem) return refuse(pushValue.problem);
  if (!Number.isInteger(pushClass) || pushClass < 0 || pushClass >= base.length) {
    return refuse(`The pushed class must be 0, 1 or 2, not ${pushClass}.`);
  }
  if (!Number.isInteger(target) || target < 0 || target >= base.length) {
    return refuse(`The target class must be 0, 1 or 2, not ${target}.`);
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
  const naiveLoss = op(format, 0 - naive.logProbs[target]); // 0 - x, not -x: a loss of 0 prints as 0, not -0
  const stableLoss = op(format, 0 - stable.logProbs[target]);
  const [diagnosis, message] = explain(format, logits, naive, naiveLoss, stable, stableLoss, threshold, target);
  return { format, ok: true, threshold, target, logits, naive, stable, naiveLoss, stableLoss, diagnosis, message };
}

// What the harness compares with torch (overflow.py's OverflowExplorer.compute): the same keys, the same words.
export function compute(inputs, state) {
  const r = explore(inputs, state.base);
  if (!r.ok) return { ok: false, message: r.message, format: r.format, values: {} };
  return {
    ok: true, message: r.message, format: r.format, diagnosis: r.diagnosis,
    values: {
      logits: r.logits, naive_probs: r.naive.probs, naive_log_probs: r.naive.logProbs,
      stable_probs: r.stable.probs, stable_log_probs: r.stable.logProbs,
      naive_loss: r.naiveLoss, stable_loss: r.stableLoss,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The view.

const STEPS = [
  ["exp", "exp(z)"],
  ["sum", "row sum"],
  ["divide", "p = exp / sum"],
  ["log", "-log p"],
];
// Which step fails first, for each diagnosis: the step its message names (overflow.py's FAILED_STEP, the same).
export const FAILED_STEP = {
  "overflow-target": "exp", "overflow-other": "exp", "all-underflow": "exp", "sum-overflow": "sum",
  "target-exp-underflow": "exp", "target-underflow": "divide", "subnormal-exp-disagree": "exp",
  "subnormal-disagree": "divide", rounding: "log",
};

function render({ model, el }) {
  const parts = frame(el, { name: "ox", title: "Overflow explorer" });
  const { id, root, controls, figure, message, kernel } = parts;
  root.classList.add("xent-ox"); // the explorer's own styles and the tests' handle
  message.classList.add("xent-ox-message");
  kernel.classList.add("xent-ox-kernel");
  const classes = model.get("base").map((_, k) => [k, `class ${k}`]);
  const format = selectControl(controls, {
    id, name: "dtype", label: "Number format", options: Object.keys(FORMATS).map((f) => [f, f]),
  });
  const target = selectControl(controls, { id, name: "target", label: "Target class", options: classes });
  controls.append(element("div", { class: "xent-row xent-ox-pair" }, [format.row, target.row]));
  const scale = numberControl(controls, { id, name: "scale", label: "Scale every logit by", min: 0, max: 100, step: 0.5, example: "70" });
  const pushClass = selectControl(controls, { id, name: "push_class", label: "Push class", options: classes });
  const push = numberControl(controls, { id, name: "push", label: "by adding", min: -200, max: 200, step: 1, example: "70" });
  pushClass.row.append(push.row); // "Push class [k] by adding [slider] [value]" reads as one line
  pushClass.row.classList.add("xent-ox-push");
  bind(model, format);
  bind(model, target, Number);
  bind(model, scale);
  bind(model, pushClass, Number);
  bind(model, push);

  const logitsLine = element("div", { class: "xent-ox-logits" });
  const steps = element("ol", { class: "xent-ox-steps", "aria-label": "The naive computation, step by step" });
  const overGauge = gauge("largest logit against exp's overflow threshold");
  const underGauge = gauge("target's log-probability against underflow to 0");
  const table = element("table", { class: "xent-ox-table", tabindex: "0", "aria-label": "Naive and stable probabilities, log-probabilities and losses" });
  const panel = element("div", { class: "xent-ox-panel" }, [logitsLine, steps, overGauge.node, underGauge.node]);
  figure.append(panel, table); // side by side where there is room (slides), one under the other elsewhere

  function gauge(label) {
    const fill = element("div", { class: "xent-ox-gauge-fill" });
    const marks = element("div", { class: "xent-ox-gauge-marks" });
    const caption = element("div", { class: "xent-ox-gauge-caption" });
    const bar = element("div", { class: "xent-ox-gauge", "aria-hidden": "true" }, [fill, marks]);
    return { node: element("div", { class: "xent-ox-meter", "aria-label": label, role: "group" }, [bar, caption]), fill, marks, caption };
  }

  function setGauge(g, fraction, bad, markFractions, caption) {
    g.fill.style.width = `${Math.max(0, Math.min(100, fraction * 100))}%`;
    g.fill.classList.toggle("xent-ox-over", bad);
    g.marks.replaceChildren(...markFractions.map((f) => element("div", { class: "xent-ox-gauge-mark", style: `left: ${f * 100}%` })));
    g.caption.textContent = caption;
  }

  function drawGauges(r) {
    const largest = Math.max(...r.logits);
    const span = r.threshold * 1.5;
    setGauge(overGauge, largest / span, largest >= r.threshold, [1 / 1.5],
      `largest logit ${fmt(largest)}; ${r.format} exp overflows from ${fmt(r.threshold, 16)}` +
      (largest >= r.threshold ? " (past it)" : ""));
    const { subnormal, tiny } = smallest(r.format);
    const logP = r.stable.logProbs[r.target];
    const floor = Math.log(subnormal);
    const lowest = floor * 1.5;
    const p = r.naive.probs[r.target];
    const state = p === 0 ? " (underflows to 0)" : p < tiny ? " (subnormal)" : "";
    setGauge(underGauge, logP / lowest, p === 0 || p < tiny, [Math.log(tiny) / lowest, floor / lowest],
      `target's log p${r.target} = ${fmt(logP)} (stable); ${r.format} p is subnormal below log ${fmt(Math.log(tiny))}` +
      ` and 0 below ${fmt(floor)}` + state);
  }

  function drawSteps(r) {
    const failed = FAILED_STEP[r.diagnosis];
    let seen = false;
    steps.replaceChildren(...STEPS.map(([key, label]) => {
      const first = key === failed;
      const status = first ? "first failure" : seen ? "after the failure" : "fine";
      if (first) seen = true;
      return element("li", { class: `xent-ox-step${first ? " xent-ox-step-failed" : ""}`, "data-step": key, text: `${label}: ${status}` });
    }));
  }

  function cell(value, loss = false) {
    const node = element("td", { text: fmt(value) });
    if (!Number.isFinite(value)) node.className = "xent-ox-bad";
    if (loss) node.classList.add("xent-ox-loss");
    return node;
  }

  function drawTable(r) {
    const header = element("tr", {}, [element("th", { text: "" })]);
    r.logits.forEach((_, k) => header.append(element("th", { scope: "col", text: k === r.target ? `class ${k} (target)` : `class ${k}` })));
    header.append(element("th", { scope: "col", text: "loss" }));
    const row = (kind, label, values, loss) => {
      const tr = element("tr", { "data-row": kind }, [element("th", { scope: "row", text: label })]);
      values.forEach((v) => tr.append(cell(v)));
      tr.append(loss === undefined ? element("td") : cell(loss, true));
      return tr;
    };
    table.replaceChildren(element("thead", {}, [header]), element("tbody", {}, [
      row("naive", "naive p", r.naive.probs),
      row("naive-log", "naive log p", r.naive.logProbs, r.naiveLoss),
      row("stable", "stable p", r.stable.probs),
      row("stable-log", "stable log p", r.stable.logProbs, r.stableLoss),
    ]));
  }

  function inputs() {
    return Object.fromEntries(["scale", "push", "push_class", "target", "dtype"].map((k) => [k, model.get(k)]));
  }

  function update() {
    const now = inputs();
    const r = explore(now, model.get("base"));
    show(format, now.dtype);
    show(target, now.target);
    show(pushClass, now.push_class);
    const parsed = { scale: parseNumber(now.scale, "scale"), push: parseNumber(now.push, "push") };
    // The one field that is wrong: the first that is not a number; else, a logit past the format, the push if it
    // alone is past half the format's range, the scale otherwise.
    const outOfRange = !r.ok && !parsed.scale.problem && !parsed.push.problem && FORMATS[now.dtype];
    const pushed = outOfRange && Math.abs(parsed.push.value) > FORMATS[now.dtype].max / 2;
    show(scale, now.scale, Boolean(parsed.scale.problem) || (outOfRange && !pushed));
    show(push, now.push, !parsed.scale.problem && (Boolean(parsed.push.problem) || pushed));
    // Full-precision results for readers' tools and the book's browser tests (the table shows 4 digits).
    root.dataset.inputs = JSON.stringify(now);
    root.dataset.ok = String(r.ok);
    root.dataset.diagnosis = r.ok ? r.diagnosis : "refused";
    root.dataset.naiveLoss = String(r.naiveLoss);
    root.dataset.stableLoss = String(r.stableLoss);
    root.classList.toggle("xent-invalid", !r.ok);
    message.textContent = r.message;
    message.classList.toggle("xent-error", !r.ok);
    if (r.ok) {
      logitsLine.textContent = `${r.format} logits [${r.logits.map((z) => fmt(z)).join(", ")}], target class ${r.target}`;
      drawSteps(r);
      drawGauges(r);
      drawTable(r);
    }
    kernelNote(kernel, model, now, (a) =>
      `naive loss ${fmt(fromJson(a.values.naive_loss))}, stable loss ${fmt(fromJson(a.values.stable_loss))}.`);
    fitTable(table); // last: its one read of the layout sees every change of this move
  }

  return live(model, ["scale", "push", "push_class", "target", "dtype", "kernel"], update);
}

export default { render };
