// Chapter 5's explorable: logits -> log_softmax -> pick the target -> reduce, every stage visible and editable.
//
// compute() is the browser's twin of pipeline.py's compute (torch's F.log_softmax then F.nll_loss): the same
// stages in the same order, every operation rounded to float32, and the same words.

import { op, sum } from "./formats.js";
import { bind, capital, drawnWidth, element, fitTable, fmt, frame, fromJson, kernelNote, live, numberControl, parseNumber, report, selectControl, show, svg } from "./ui.js";

const F = "float32";
const ROWS = 5;
const CLASSES = 3;
const FLOAT32_MAX = 3.4028234663852886e38;
const TARGET_CHOICES = ["0", "1", "2", "ignore"];
const REDUCTIONS = ["mean", "sum", "none"];
const range = (n) => [...Array(n).keys()];
const LOGIT_NAMES = range(ROWS).flatMap((i) => range(CLASSES).map((j) => `z${i}_${j}`));
const TARGET_NAMES = range(ROWS).map((i) => `t${i}`);
const WEIGHT_NAMES = range(CLASSES).map((j) => `w${j}`);
export const INPUTS = [...LOGIT_NAMES, ...TARGET_NAMES, ...WEIGHT_NAMES, "ignore_index", "reduction"];

function parseFinite32(text, name, example) {
  const parsed = parseNumber(text, name, example);
  if (parsed.problem) return parsed;
  if (Math.abs(parsed.value) > FLOAT32_MAX) {
    return { problem: `${capital(name)} would be ${fmt(parsed.value)}, past the largest float32 (${fmt(FLOAT32_MAX)}): type a smaller number.` };
  }
  return parsed;
}

// The inputs checked in the same order as pipeline.py's read_inputs: the first problem is the one reported.
function readInputs(inputs) {
  const logits = [];
  for (let i = 0; i < ROWS; i++) {
    for (let j = 0; j < CLASSES; j++) {
      const p = parseFinite32(inputs[`z${i}_${j}`], `the logit of row ${i}, class ${j}`, "1.5");
      if (p.problem) return { problem: p.problem, field: `z${i}_${j}` };
      logits.push(p.value);
    }
  }
  const weights = [];
  for (let j = 0; j < CLASSES; j++) {
    const p = parseFinite32(inputs[`w${j}`], `the weight of class ${j}`, "2");
    if (p.problem) return { problem: p.problem, field: `w${j}` };
    weights.push(p.value);
  }
  const ii = parseNumber(inputs.ignore_index, "ignore_index", "-100");
  if (ii.problem) return { problem: ii.problem, field: "ignore_index" };
  if (ii.value !== Math.floor(ii.value) || Math.abs(ii.value) > 2 ** 31) {
    return { problem: `The ignore_index must be a whole number such as -100, not ${inputs.ignore_index}.`, field: "ignore_index" };
  }
  const targets = [];
  for (let i = 0; i < ROWS; i++) {
    const choice = inputs[`t${i}`];
    if (!TARGET_CHOICES.includes(choice)) {
      return { problem: `The target of row ${i} must be one of ${TARGET_CHOICES.join(", ")}, not '${choice}'.`, field: `t${i}` };
    }
    targets.push(choice === "ignore" ? ii.value : Number(choice));
  }
  if (!REDUCTIONS.includes(inputs.reduction)) {
    return { problem: `The reduction must be one of ${REDUCTIONS.join(", ")}, not '${inputs.reduction}'.`, field: "reduction" };
  }
  return { logits, weights, ignoreIndex: ii.value, targets, reduction: inputs.reduction };
}

// torch's CPU log_softmax along a row, in its order: (z - max) - log(sum exp(z - max)).
function logSoftmaxRow(row) {
  const largest = Math.max(...row);
  const shifted = row.map((z) => op(F, z - largest));
  const logSum = op(F, Math.log(shifted.reduce((total, s) => op(F, total + op(F, Math.exp(s))), 0))); // left to right
  return shifted.map((s) => op(F, s - logSum));
}

// The sums of torch's CPU nll_loss (aten/src/ATen/native/LossNLL.cpp): float32 partial sums on 8 levels; after
// every 16th row (and after row 0) level j is added into level j + 1; the levels are then added in order.
function cascadeSums(keep, rowLoss, rowWeight) {
  const levels = 8;
  const loss = new Array(levels).fill(0);
  const weight = new Array(levels).fill(0);
  keep.forEach((kept, b) => {
    if (!kept) return;
    loss[0] = op(F, loss[0] + rowLoss[b]);
    weight[0] = op(F, weight[0] + rowWeight[b]);
    for (let j = 0; j + 1 < levels; j++) {
      if ((b & (15 * 16 ** j)) !== 0) break;
      loss[j + 1] = op(F, loss[j + 1] + loss[j]);
      weight[j + 1] = op(F, weight[j + 1] + weight[j]);
      loss[j] = 0;
      weight[j] = 0;
    }
  });
  return [sum(F, loss), sum(F, weight)];
}

function describe(reduction, ignoreIndex, kept, loss, total, divisor, rowLoss) {
  const ignored = ROWS - kept;
  const note = ignored
    ? `${ignored} of the ${ROWS} rows have the ignore_index ${ignoreIndex} as their target: they leave both ` +
      "the sum and the divisor, and show a loss of 0"
    : `No row has the ignore_index ${ignoreIndex} as its target`;
  if (reduction === "mean" && kept === 0) {
    return `Reduction 'mean': every row's target is the ignore_index ${ignoreIndex}, so nothing is left to average: 0 / 0 = nan.`;
  }
  if (reduction === "mean") {
    return `Reduction 'mean': the kept rows' losses w·(−log p) add up to ${fmt(total)}; divided by the sum of their targets' ` +
      `weights, ${fmt(divisor)}, that is ${fmt(loss)}. ${note}.`;
  }
  if (reduction === "sum") return `Reduction 'sum': the kept rows' losses w·(−log p) add up to ${fmt(loss)}; nothing is divided. ${note}.`;
  return `Reduction 'none': one loss per row, w·(−log p) of its target: [${rowLoss.map((v) => fmt(v)).join(", ")}]. ${note}.`;
}

// Every stage for one setting of the controls (the twin of pipeline.py's compute).
export function pipeline(inputs) {
  const read = readInputs(inputs);
  if (read.problem) return { ok: false, message: read.problem, field: read.field };
  const logits = read.logits.map((v) => op(F, v));
  const weight = read.weights.map((v) => op(F, v));
  const rows = range(ROWS).map((i) => logits.slice(i * CLASSES, (i + 1) * CLASSES));
  const logProbs = rows.map(logSoftmaxRow);
  const keep = read.targets.map((t) => t !== read.ignoreIndex);
  const picked = logProbs.map((lp, i) => (keep[i] ? lp[read.targets[i]] : 0));
  const rowWeight = keep.map((k, i) => (k ? weight[read.targets[i]] : 0));
  // F.nll_loss: each kept row contributes -log p * w, summed in float32 in torch's cascade order.
  const rowLoss = keep.map((k, i) => (k ? op(F, -(picked[i] * rowWeight[i])) : 0));
  const [total, divisor] = cascadeSums(keep, rowLoss, rowWeight);
  const kept = keep.filter(Boolean).length;
  let loss;
  if (read.reduction === "none") loss = rowLoss;
  else if (read.reduction === "sum") loss = total;
  else loss = kept === 0 ? NaN : op(F, total / divisor);
  const message = describe(read.reduction, read.ignoreIndex, kept, loss, total, divisor, rowLoss);
  return {
    ok: true, message, format: F, reduction: read.reduction, ignoreIndex: read.ignoreIndex, targets: read.targets,
    keep, logits, logProbs, picked, rowWeight, rowLoss, total, divisor, loss,
  };
}

// What the harness compares with torch (pipeline.py's compute): the same keys, the same words.
export function compute(inputs) {
  const r = pipeline(inputs);
  if (!r.ok) return { ok: false, message: r.message, format: F, values: {} };
  return {
    ok: true, message: r.message, format: F,
    values: {
      logits: r.logits, log_probs: r.logProbs.flat(), picked: r.picked, row_weight: r.rowWeight,
      row_loss: r.rowLoss, total: r.total, divisor: r.divisor, loss: r.loss,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The view.

function textField(id, name, label, example) {
  return element("input", {
    id: `${id}-${name}`, type: "text", inputmode: "decimal", size: "6", spellcheck: "false",
    "aria-label": label, "data-input": name, "data-example": example,
  });
}

function render({ model, el }) {
  const { id, root, controls, figure, message, kernel } = frame(el, { name: "pipeline", title: "The loss as a pipeline" });

  // Stage 1: the logits and the targets, one table row per example.
  const fields = {};
  const targetSelects = {};
  const head = element("tr", {}, [element("th", { scope: "col", text: "row" })]);
  range(CLASSES).forEach((j) => head.append(element("th", { scope: "col", text: `z${j}` })));
  head.append(element("th", { scope: "col", text: "target" }));
  const body = element("tbody");
  for (let i = 0; i < ROWS; i++) {
    const tr = element("tr", {}, [element("th", { scope: "row", text: String(i) })]);
    for (let j = 0; j < CLASSES; j++) {
      const name = `z${i}_${j}`;
      fields[name] = textField(id, name, `Logit of row ${i}, class ${j}`, "1.5");
      tr.append(element("td", {}, [fields[name]]));
    }
    const select = element("select", { id: `${id}-t${i}`, "data-input": `t${i}`, "aria-label": `Target of row ${i}` });
    for (const choice of TARGET_CHOICES) {
      select.append(element("option", { value: choice, text: choice === "ignore" ? "ignore" : choice }));
    }
    targetSelects[`t${i}`] = select;
    tr.append(element("td", {}, [select]));
    body.append(tr);
  }
  const inputTable = element("table", { class: "xent-pipeline-inputs", "aria-label": "Stage 1: the logits and each row's target" }, [
    element("caption", { text: "1. logits z and targets (edit any of them)" }), element("thead", {}, [head]), body,
  ]);
  controls.append(inputTable);

  const weights = WEIGHT_NAMES.map((name, j) =>
    numberControl(controls, { id, name, label: `Weight of class ${j}`, min: 0, max: 5, step: 0.1, example: "2" }));
  const ignoreField = element("input", {
    id: `${id}-ignore_index`, type: "text", inputmode: "numeric", size: "6", spellcheck: "false",
    "aria-label": "ignore_index (value)", "data-input": "ignore_index", "data-example": "-100",
  });
  const options = element("div", { class: "xent-pipeline-options" }, [element("div", { class: "xent-row" }, [
    element("label", { for: `${id}-ignore_index`, text: "ignore_index" }), ignoreField,
  ])]);
  controls.append(options);
  const reduction = selectControl(options, {
    id, name: "reduction", label: "reduction", options: REDUCTIONS.map((r) => [r, `'${r}'`]),
  });

  for (const [name, field] of Object.entries(fields)) field.addEventListener("input", () => change(name, field.value));
  for (const [name, select] of Object.entries(targetSelects)) select.addEventListener("change", () => change(name, select.value));
  ignoreField.addEventListener("input", () => change("ignore_index", ignoreField.value));
  weights.forEach((w) => bind(model, w));
  bind(model, reduction);

  function change(name, value) {
    model.set(name, value);
    model.save_changes();
  }

  // Stages 2 to 4: the log-probabilities, the picked entry, each row's loss, and the reduction.
  const stages = element("table", { class: "xent-table xent-pipeline-stages", tabindex: "0",
    "aria-label": "Stages 2 and 3: log_softmax of each row, the target's entry picked, times its weight" });
  const chart = element("div", { class: "xent-pipeline-chart", role: "img" });
  const result = element("p", { class: "xent-pipeline-result" });
  figure.append(stages, chart, result);

  function drawStages(r) {
    const header = element("tr", {}, [element("th", { scope: "col", text: "row" })]);
    range(CLASSES).forEach((j) => header.append(element("th", { scope: "col", text: `log p${j}` })));
    ["target", "w", "w·(−log p)"].forEach((t) => header.append(element("th", { scope: "col", text: t })));
    const rows = range(ROWS).map((i) => {
      const tr = element("tr", { class: r.keep[i] ? "" : "xent-pipeline-ignored" }, [element("th", { scope: "row", text: String(i) })]);
      r.logProbs[i].forEach((v, j) => {
        const picked = r.keep[i] && j === r.targets[i];
        tr.append(element("td", { class: picked ? "xent-pipeline-picked" : "", text: fmt(v) }));
      });
      tr.append(element("td", { text: r.keep[i] ? String(r.targets[i]) : `${r.targets[i]}, ignored` }));
      tr.append(element("td", { text: r.keep[i] ? fmt(r.rowWeight[i]) : "—" }));
      tr.append(element("td", { text: fmt(r.rowLoss[i]) }));
      return tr;
    });
    stages.replaceChildren(
      element("caption", { text: "2. log_softmax of each row; 3. the target's entry (underlined), times its weight w" }),
      element("thead", {}, [header]), element("tbody", {}, rows));
  }

  function drawChart(r) {
    const width = drawnWidth(chart, 320);
    const height = 140;
    const base = height - 20; // the bars' foot; the row names below it, the mean's key above the bars
    const finite = r.rowLoss.filter(Number.isFinite);
    const line = r.reduction === "mean" && Number.isFinite(r.loss) ? r.loss : null;
    const top = Math.max(1e-9, ...finite.map(Math.abs), line === null ? 0 : Math.abs(line));
    const y = (v) => base - (Math.max(0, v) / top) * (base - 26);
    const band = width / ROWS;
    const parts = [svg("line", { class: "xent-axis", x1: 0, x2: width, y1: base, y2: base })];
    r.rowLoss.forEach((v, i) => {
      const x = i * band + band * 0.2;
      if (r.keep[i]) {
        const barTop = Number.isFinite(v) ? y(v) : 26;
        const plotted = Number.isFinite(v) ? { "data-y-value": v, "data-y-at": "top" } : {};
        parts.push(svg("rect", { class: "xent-pipeline-bar", x, y: barTop, width: band * 0.6, height: Math.max(0, base - barTop), ...plotted }));
      } else {
        parts.push(svg("text", { x: x + band * 0.3, y: base - 6, "text-anchor": "middle", class: "xent-pipeline-ignored-label", text: "ignored" }));
      }
      parts.push(svg("text", { x: x + band * 0.3, y: height - 4, "text-anchor": "middle", text: `row ${i}` }));
    });
    if (line !== null) { // the mean as a dashed line across the bars, named in a key above them (never over a bar)
      parts.push(svg("line", { class: "xent-pipeline-mean", x1: 0, x2: width, y1: y(line), y2: y(line), "data-y-value": line, "data-y-at": "top" }));
      parts.push(svg("line", { class: "xent-pipeline-mean", x1: 0, x2: 24, y1: 8, y2: 8 }));
      parts.push(svg("text", { x: 30, y: 12, text: `mean ${fmt(line)}` }));
    }
    chart.setAttribute("aria-label", `Each row's loss w·(−log p): ${r.rowLoss.map((v, i) => (r.keep[i] ? `row ${i} ${fmt(v)}` : `row ${i} ignored`)).join("; ")}` +
      (line === null ? "" : `; the mean ${fmt(line)}`));
    chart.replaceChildren(svg("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true", "data-y-scale": `0 ${y(0)} ${top} ${y(top)}` }, parts));
  }

  function inputs() {
    return Object.fromEntries(INPUTS.map((k) => [k, model.get(k)]));
  }

  function update() {
    const now = inputs();
    const r = pipeline(now);
    const bad = r.ok ? null : r.field;
    for (const [name, field] of Object.entries(fields)) {
      if (document.activeElement !== field) field.value = now[name];
      field.setAttribute("aria-invalid", bad === name ? "true" : "false");
    }
    for (const [name, select] of Object.entries(targetSelects)) select.value = now[name];
    weights.forEach((w) => show(w, now[w.name], bad === w.name));
    if (document.activeElement !== ignoreField) ignoreField.value = now.ignore_index;
    ignoreField.setAttribute("aria-invalid", bad === "ignore_index" ? "true" : "false");
    show(reduction, now.reduction);
    report(root, message, now, r);
    if (r.ok) {
      drawStages(r);
      drawChart(r);
      result.textContent = r.reduction === "none"
        ? `4. reduction='none': the loss is the vector [${r.loss.map((v) => fmt(v)).join(", ")}]`
        : `4. reduction='${r.reduction}': the loss is ${fmt(r.loss)}`;
    }
    kernelNote(kernel, model, now, (a) => {
      const loss = a.values.loss;
      return `loss ${Array.isArray(loss) ? `[${loss.map((v) => fmt(fromJson(v))).join(", ")}]` : fmt(fromJson(loss))}.`;
    });
    fitTable(stages); // last: its one read of the layout sees every change of this move
  }

  return live(model, [...INPUTS, "kernel"], update, chart);
}

export default { render };
