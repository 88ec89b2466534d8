// What every explorable's view shares: reading numbers a reader types, printing numbers as Python does, and
// labelled controls with accessible names. The Python twins of fmt and parseNumber are in base.py: the words an
// explorable prints are the same in the browser and in the kernel.

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

// x in exponential notation with `digits` significant digits, rounded as Python rounds: to nearest, and an exact
// tie to the even digit (toExponential rounds ties up: 0.28125 would print 0.2813 where Python prints 0.2812).
function exponential(x, digits) {
  const [long, exponent] = Math.abs(x).toExponential(digits + 24).split("e"); // exact enough to spot a tie
  const all = long.replace(".", "");
  if (/^50*$/.test(all.slice(digits)) && Number(all[digits - 1]) % 2 === 0) return [all.slice(0, digits), Number(exponent)];
  const [short, shortExponent] = Math.abs(x).toExponential(digits - 1).split("e");
  return [short.replace(".", ""), Number(shortExponent)];
}

// Python's "%g" with `digits` significant digits, so that the messages read the same in both languages.
export function fmt(x, digits = 4) {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const strip = (s) => (s.includes(".") ? s.replace(/\.?0*$/, "") : s);
  const sign = x < 0 ? "-" : "";
  const [kept, exponent] = exponential(x, digits);
  if (exponent < -4 || exponent >= digits) {
    const exponentSign = exponent < 0 ? "-" : "+";
    return `${sign}${strip(`${kept[0]}.${kept.slice(1)}`)}e${exponentSign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  if (exponent >= 0) return sign + strip(`${kept.slice(0, exponent + 1)}.${kept.slice(exponent + 1)}`);
  return sign + strip(`0.${"0".repeat(-exponent - 1)}${kept}`);
}

// A sentence as it is shown: its first letter a capital (base.py's capital).
export function capital(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

// Read a number a reader typed: { value } if usable, { problem } (a sentence saying what to type) if not.
export function parseNumber(value, name, example = "70") {
  const parsed = parseNumberAs(value, name, example);
  return parsed.problem ? { problem: capital(parsed.problem) } : parsed;
}

function parseNumberAs(value, name, example) {
  const text = String(value).trim();
  const lowered = text.toLowerCase().replace(/^[+-]+/, "");
  if (lowered === "nan") return { problem: `${name} is NaN (not a number): type a finite number such as ${example}.` };
  if (lowered === "inf" || lowered === "infinity") {
    return { problem: `${name} is infinite: type a finite number such as ${example}.` };
  }
  if (!NUMBER.test(text)) {
    return { problem: `${name} must be a number such as ${example} or 1e4, not '${text.replace(/'/g, "\\'")}'.` };
  }
  const number = Number(text);
  if (!Number.isFinite(number)) {
    return { problem: `${name} ${text} is beyond any floating-point range: type a smaller number.` };
  }
  return { value: number };
}

// The named fields as whole numbers from 1 to their limit: { numbers }, or { problem, field } for the first field
// that is not one (base.py's whole_numbers).
export function wholeNumbers(inputs, names, labels, examples, limits) {
  const numbers = {};
  for (const name of names) {
    const p = parseNumber(inputs[name], labels[name], examples[name]);
    if (p.problem) return { problem: p.problem, field: name };
    if (!Number.isInteger(p.value) || p.value < 1 || p.value > limits[name]) {
      return { problem: capital(`${labels[name]} must be a whole number from 1 to ${limits[name]}, not ${inputs[name]}.`), field: name };
    }
    numbers[name] = p.value;
  }
  return { numbers };
}

const UNITS = [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "kB"]];

// A byte count with 4 significant digits and a decimal unit (base.py's size).
export function size(n) {
  for (const [unit, name] of UNITS) if (n >= unit) return `${fmt(n / unit)} ${name}`;
  return `${fmt(n)} B`;
}

// A ratio in words: "0.25 of the plain path's", or "114.1 times the plain path's" when it is more than 1 (base.py's
// times).
export function times(ratio, what) {
  return ratio <= 1 ? `${fmt(ratio)} of ${what}` : `${fmt(ratio)} times ${what}`;
}

// Numbers from the kernel's JSON answer ('nan', 'inf', '-inf' travel as strings).
export function fromJson(x) {
  if (x === "nan") return NaN;
  if (x === "inf") return Infinity;
  if (x === "-inf") return -Infinity;
  return x;
}

export function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attributes = {}, children = []) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// A linear map from a data interval to a pixel interval (for the SVG figures).
export function linear([d0, d1], [r0, r1]) {
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

// An SVG path through points [[x, y], ...], skipping the ones that are not finite.
export function pathThrough(points) {
  let d = "";
  let pen = "M";
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      pen = "M";
      continue;
    }
    d += `${pen}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = "L";
  }
  return d;
}

let instances = 0;

// The frame every explorable has: a labelled group, its controls, its figure, one status line that says what
// happened (the harness reads it), and a line that says who computed it (the browser, or torch in a kernel).
export function frame(el, { name, title }) {
  const id = `xent-${name}-${(instances += 1)}`;
  const root = element("div", { class: `xent-explorable xent-${name}`, "data-explorable": name, role: "group", "aria-label": title });
  const controls = element("div", { class: "xent-controls" });
  const figure = element("div", { class: "xent-figure" });
  const message = element("p", { class: "xent-message", role: "status", "aria-live": "polite" });
  const kernel = element("p", { class: "xent-kernel" });
  root.append(controls, figure, message, kernel);
  el.append(root);
  return { id, root, controls, figure, message, kernel };
}

// A number the reader sets with a slider or by typing: one visible label, two controls, each with its own name.
export function numberControl(parent, { id, name, label, min, max, step, example = "1" }) {
  const slider = element("input", {
    id: `${id}-${name}-slider`, type: "range", min, max, step, "aria-label": `${label} (slider)`,
  });
  const text = element("input", {
    id: `${id}-${name}`, type: "text", inputmode: "decimal", size: "8", spellcheck: "false",
    "aria-label": `${label} (value)`, "data-input": name, "data-example": example,
  });
  const row = element("div", { class: "xent-row" }, [element("label", { for: `${id}-${name}`, text: label }), slider, text]);
  parent.append(row);
  return { name, row, slider, text, example };
}

// A choice among a few options (a format, a class): a <select> with a visible label.
export function selectControl(parent, { id, name, label, options }) {
  const select = element("select", { id: `${id}-${name}`, "data-input": name });
  for (const [value, text] of options) select.append(element("option", { value: String(value), text }));
  const row = element("div", { class: "xent-row" }, [element("label", { for: `${id}-${name}`, text: label }), select]);
  parent.append(row);
  return { name, row, select };
}

// Send a control's changes to the model (the kernel, if there is one, hears them through save_changes).
export function bind(model, control, convert = (v) => v) {
  const change = (value) => {
    model.set(control.name, convert(value));
    model.save_changes();
  };
  if (control.select) control.select.addEventListener("change", () => change(control.select.value));
  if (control.slider) control.slider.addEventListener("input", () => change(control.slider.value));
  if (control.text) control.text.addEventListener("input", () => change(control.text.value));
}

// Show the model's value in a control without fighting the reader's typing; mark it invalid when it is.
export function show(control, value, invalid = false) {
  if (control.select) {
    control.select.value = String(value);
    return;
  }
  if (document.activeElement !== control.text) control.text.value = String(value);
  control.text.setAttribute("aria-invalid", invalid ? "true" : "false");
  const parsed = parseNumber(value, control.name);
  if (!parsed.problem && document.activeElement !== control.slider) control.slider.value = String(parsed.value);
}

// Show a result's state: its inputs and verdict on the root (for the tests and readers' tools), its message below.
export function report(root, message, inputs, r) {
  root.dataset.inputs = JSON.stringify(inputs);
  root.dataset.ok = String(r.ok);
  root.classList.toggle("xent-invalid", !r.ok);
  message.textContent = r.message;
  message.classList.toggle("xent-error", !r.ok);
}

// Who computed what the reader sees: torch in a kernel (when its answer is for these very inputs) or the browser.
export function kernelNote(node, model, inputs, describe) {
  const answer = model.get("kernel");
  const same = answer && answer.inputs && Object.keys(inputs).every((k) => answer.inputs[k] === inputs[k]);
  node.textContent = same
    ? `torch's answer for these inputs: ${answer.ok ? describe(answer) : answer.message}`
    : "Computed in your browser, with the format's rounding (no Python kernel behind this page).";
}

// The width, in CSS px, at which to draw a figure shown in `node`: the width it is shown at (at most `most`), so
// that its SVG text, sized in px by base.css, is that size on the screen, on a phone as on a projector. Before the
// node is laid out (width 0), `fallback`; below `least` the drawing scales down rather than crowd.
// The width is read from the page once, then kept until live's observer sees it change (a move stays fast).
const shownWidths = new WeakMap();
export function drawnWidth(node, fallback, most = 544, least = 260) {
  let shown = shownWidths.get(node);
  if (shown === undefined) {
    shown = node.getBoundingClientRect().width;
    if (shown > 0) shownWidths.set(node, shown);
  }
  return shown > 0 ? Math.round(Math.max(least, Math.min(most, shown))) : fallback;
}

// Wire a view: call update now, on every change of the named traits and (given `resized`, the node its figure is
// drawn to fit, see drawnWidth) whenever that node's width changes; return the clean-up anywidget expects.
export function live(model, names, update, resized = null) {
  for (const name of names) model.on(`change:${name}`, update);
  update();
  let observer = null;
  if (resized && typeof ResizeObserver !== "undefined") {
    let last = Math.round(resized.getBoundingClientRect().width);
    observer = new ResizeObserver(() => {
      const shown = resized.getBoundingClientRect().width;
      if (Math.round(shown) !== last) {
        last = Math.round(shown);
        shownWidths.set(resized, shown);
        update();
      }
    });
    observer.observe(resized);
  }
  return () => {
    for (const name of names) model.off(`change:${name}`, update);
    if (observer) observer.disconnect();
  };
}

// The box a label of base.css's 13 px text takes at (x, y) with a text-anchor, estimated without asking the page
// for its layout (a move must stay fast): a generous 0.62 em a character, 10 px above the baseline and 3 below.
export function textBox(x, y, text, anchor = "start") {
  const width = String(text).length * 13 * 0.62;
  const left = anchor === "end" ? x - width : anchor === "middle" ? x - width / 2 : x;
  return { x: left, y: y - 10, width, height: 13 };
}

// Place SVG labels where they overlap nothing placed before them: each item is a label (an SVG <text>) and its
// candidate spots [x, y, text-anchor], tried in order (the first is kept when none is free); `obstacles` are boxes
// (in the SVG's units) to keep clear of, such as a line's band; a spot that would put the label past `bounds`
// ({ width, height } of the drawing) is never taken.
export function placeLabels(items, obstacles = [], bounds = null) {
  const meets = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  const placed = [...obstacles];
  for (const { label, spots } of items) {
    const fits = (spot) => {
      const box = textBox(spot[0], spot[1], label.textContent, spot[2]);
      const inside = !bounds || (box.x >= 0 && box.y >= 0 && box.x + box.width <= bounds.width && box.y + box.height <= bounds.height);
      return inside && !placed.some((b) => meets(b, box));
    };
    const [x, y, anchor] = spots.find(fits) ?? spots[0];
    label.setAttribute("x", x);
    label.setAttribute("y", y);
    label.setAttribute("text-anchor", anchor);
    placed.push(textBox(x, y, label.textContent, anchor));
  }
}

// Spots around a mark at (x, y) for placeLabels: right of it and left of it, above and below, nearest first.
export function spotsAround(x, y, gap = 7) {
  return [-6, 15, -20, 29, -34, 43].flatMap((dy) => [[x + gap, y + dy, "start"], [x - gap, y + dy, "end"]]);
}

// A table that fits the width it is shown at: each cell keeps its column's name (data-label), and when the table
// is wider than its box the rows are stacked (class xent-stacked: each row one block of "name value" pairs, see
// base.css) instead of cut off. Call after every redraw of the table; the roles keep it a table for screen readers.
export function fitTable(table) {
  const names = [...(table.querySelector("thead tr")?.children ?? [])].map((th) => th.textContent);
  table.setAttribute("role", "table");
  for (const group of table.querySelectorAll("thead, tbody")) group.setAttribute("role", "rowgroup");
  for (const tr of table.querySelectorAll("tr")) {
    tr.setAttribute("role", "row");
    [...tr.children].forEach((cell, k) => {
      const header = cell.tagName === "TH";
      cell.setAttribute("role", header ? (cell.getAttribute("scope") === "row" ? "rowheader" : "columnheader") : "cell");
      if (names[k] && tr.parentElement.tagName !== "THEAD" && !("label" in cell.dataset)) cell.dataset.label = names[k];
    });
  }
  // One read of the layout per move: a stacked table stays stacked until the width it has changes.
  const box = Math.round(table.parentElement.getBoundingClientRect().width);
  if (table.classList.contains("xent-stacked") && Number(table.dataset.stackedAt) === box) return;
  table.classList.remove("xent-stacked");
  if (box > 0 && table.scrollWidth > table.clientWidth + 1) {
    table.classList.add("xent-stacked");
    table.dataset.stackedAt = String(box);
  }
}
