"""The explorables' test harness: what every explorable must do in a real browser, checked the same way for each.

Adding an explorable to the harness is one entry in EXPLORABLES: the page that shows it, its widget class (whose
``compute`` is torch's answer) and a grid of inputs. tests/test_explorables.py then checks, for each entry:
the page's JavaScript against torch on the grid (same nan/inf pattern, finite values within 1 ulp of the format,
the same words), every control moved by keyboard, bad input (NaN, text, 1e400) answered with a clear message and
no page error, an accessible name for every control, readable text in light and dark mode, a usable 390 px
screen, the median latency of a move (recorded in _build/measurements/), a screenshot after a move (in
_build/screenshots/), and a look as a reader's at 390 and 1280 px (LOOK: text size, overlaps, cut-off or scrolling
boxes, marks over labels, plotted values against the printed ones) in the first state and at the entry's looks.
"""

import dataclasses
import json
import math
from collections.abc import Callable

import torch

import explorable_grids  # tests/explorable_grids.py: the grids of chapters 5, 6, 8, 9 and 10's explorables
from conftest import SITE
from xentbook.explorables import BCEExplorer, NaiveLossExplorer, OverflowExplorer, SoftmaxExplorer
from xentbook.explorables.overflow import BASE_LOGITS
from xentbook.floats import DTYPES, ulp

MEASUREMENTS = SITE.parent / "measurements"
BAD_INPUT = ["NaN", "abc", "1e400"]
CONTROL_ROLES = ("slider", "textbox", "combobox", "spinbutton", "checkbox", "radio", "button", "switch")


@dataclasses.dataclass(frozen=True)
class Explorable:
    """One explorable as the harness sees it."""

    name: str  # its root's data-explorable
    widget: type  # the xentbook.explorables widget class; its compute(inputs) is torch's answer
    page: str  # the site page that shows it (the first one on the page is tested)
    grid: Callable[[], list]  # inputs (dicts of the widget's INPUTS) to compare the page's JavaScript with torch
    looks: tuple = ()  # settings (typed into its fields, chosen in its menus) at which to look at it as a reader does

    @property
    def selector(self):
        return f'.xent-explorable[data-explorable="{self.name}"]'

    @property
    def widget_id(self):
        return f"{self.widget.__module__}.{self.widget.__name__}"


def overflow_grid():
    """The overflow explorer around every format's thresholds, each pushed class and target."""
    settings = [
        (scale, push, push_class, target, dtype)
        for dtype, scales in {
            "float16": ["1", "7.9", "8", "10", "20"],
            "bfloat16": ["1", "64", "65", "80"],
            "float32": ["1", "43", "45", "50", "63.5", "70"],
            "float64": ["1", "500", "520"],
        }.items()
        for scale in scales
        for push_class, push in [(0, "0"), (2, "146"), (2, "-60"), (2, "-95"), (1, "1e4")]
        for target in range(len(BASE_LOGITS))
    ]
    return [dict(scale=s, push=p, push_class=c, target=t, dtype=d) for s, p, c, t, d in settings]


def bce_grid():
    """Chapter 1's model, each weight and the bias from harmless to a confident mistake (both cliffs)."""
    return [
        dict(w0=w0, w1=w1, b=b)
        for w0 in ["0.9", "-1", "3"]
        for w1 in ["0.3", "-2", "2.5"]
        for b in ["-5", "-40", "0", "11", "14", "20", "40", "-95"]
    ]


def softmax_grid():
    """Chapter 2's three logits, temperatures from sharp to flat, constants from none to overflow, subnormal exps
    and underflow; logits whose exps are finite but their sum is not."""
    return [
        dict(z0=z0, z1=z1, z2=z2, temperature=t, shift=c)
        for z0, z1, z2 in [("1.3877", "-1.2656", "-0.9112"), ("3", "3", "-2"), ("-10", "0", "10"), ("88.5", "88.5", "-100")]
        for t in ["0.1", "0.5", "1", "5"]
        for c in ["0", "5", "-30", "50", "90", "-100", "-104", "-120"]
    ]


def naive_grid():
    """Chapter 3's running example scaled, each row's target logit pushed both ways: every way a row breaks (another
    exp or the row sum overflows, the target's exp underflows, or its quotient does)."""
    return [
        dict(scale=s, row=row, push=p)
        for s in ["0", "1", "10", "40", "45", "50", "63.5", "64", "70"]
        for row in range(5)
        for p in ["0", "-60", "-110", "90", "146.36"]
    ]


EXPLORABLES = [
    Explorable("bce", BCEExplorer, "chapters/01_sigmoid.html", bce_grid, ({"b": "14"}, {"w0": "-3", "b": "-40"})),
    Explorable("softmax", SoftmaxExplorer, "chapters/02_softmax.html", softmax_grid, ({"shift": "90"}, {"temperature": "0.1"})),
    Explorable("naive", NaiveLossExplorer, "chapters/03_naive_loss.html", naive_grid, ({"scale": "45"}, {"push": "-110"})),
    Explorable("ox", OverflowExplorer, "chapters/04_log_sum_exp.html", overflow_grid, ({"scale": "45"}, {"dtype": "float16", "scale": "10"})),
]
EXPLORABLES += [Explorable(*entry) for entry in explorable_grids.ENTRIES]  # chapters 5, 6, 8, 9 and 10


# --- In the page ----------------------------------------------------------------------------------------------

# Import the explorable's front end from the page's saved widget state and run its compute on every input.
JS_COMPUTE = """async ([widgetId, grid]) => {
    const state = JSON.parse(document.querySelector('script[type*=widget-state]').textContent).state;
    const model = Object.values(state).find((m) => m.state._anywidget_id === widgetId).state;
    const url = URL.createObjectURL(new Blob([model._esm], { type: 'text/javascript' }));
    const m = await import(url);
    const one = (x) => (Object.is(x, -0) ? '-0' : String(x));
    const text = (v) => (Array.isArray(v) ? v.map(one) : one(v));  // keep NaN, Infinity and -0 through JSON
    return grid.map((inputs) => {
        const r = m.compute(inputs, model);
        const values = Object.fromEntries(Object.entries(r.values).map(([k, v]) => [k, text(v)]));
        return { ...r, values };
    });
}"""


def js_compute(browser_page, explorable, grid):
    """The page's JavaScript answers for every input of the grid, in one evaluation."""
    return browser_page.evaluate(JS_COMPUTE, [explorable.widget_id, grid])


def as_float(text):
    return -0.0 if text == "-0" else float(text)


def mismatches(explorable, inputs, js):
    """How the browser's answer differs from torch's for one input (an empty list when it does not)."""
    expected = explorable.widget.compute(inputs)
    problems = []
    if js["ok"] != expected.ok or js["message"] != expected.message:
        problems.append(f"message: browser {js['message']!r}, torch {expected.message!r}")
    if sorted(js["values"]) != sorted(expected.values):
        return problems + [f"keys: browser {sorted(js['values'])}, torch {sorted(expected.values)}"]
    for key, reference in expected.values.items():
        reference = torch.as_tensor(reference, dtype=DTYPES[expected.format]).flatten()
        got = torch.tensor([as_float(v) for v in (js["values"][key] if isinstance(js["values"][key], list) else [js["values"][key]])], dtype=torch.float64)
        if got.shape != reference.shape:
            problems.append(f"{key}: browser {got.tolist()}, torch {reference.tolist()}")
            continue
        same_pattern = torch.equal(got.isnan(), reference.isnan()) and torch.equal(
            got.isinf() & (got > 0), reference.isinf() & (reference > 0)
        ) and torch.equal(got.isinf() & (got < 0), reference.isinf() & (reference < 0))
        finite = reference.isfinite()
        within = ((got[finite] - reference[finite].double()).abs() <= ulp(reference[finite])).all()
        if not (same_pattern and within):
            problems.append(f"{key}: browser {got.tolist()}, torch {reference.tolist()} ({expected.format})")
    return [f"{inputs}: {p}" for p in problems]


def open_explorable(page, site_url, explorable):
    """Load the explorable's page; return (the Playwright page, a locator of the explorable's root).

    MathJax is not loaded: the explorables draw no TeX, and typesetting a chapter's math costs more CPU than the
    checks here (the math is checked by tests/test_site.py, tests/test_accessibility.py and the PDF's tests)."""
    browser_page = page.page
    browser_page.route("**/vendor/mathjax/**", lambda route: route.abort())
    browser_page.goto(f"{site_url}/{explorable.page}")
    browser_page.wait_for_function("document.documentElement.dataset.widgetsReady")
    root = browser_page.locator(explorable.selector).first
    root.wait_for()
    return browser_page, root


def inputs_of(root):
    """The inputs the explorable shows now (its root's data-inputs)."""
    return json.loads(root.get_attribute("data-inputs"))


# Every control of the explorable, with what the harness needs to move it by keyboard.
CONTROLS = """root => [...root.querySelectorAll('input, select, button, textarea')].map((el) => ({
    id: el.id, tag: el.tagName.toLowerCase(), type: el.type || '',
    atMax: el.type === 'range' && Number(el.value) >= Number(el.max),
    lastOption: el.tagName === 'SELECT' && el.selectedIndex === el.options.length - 1,
}))"""


def controls(root):
    return root.evaluate(CONTROLS)


def press_to_move(control):
    """The keys that move a control one step, as a keyboard user would."""
    if control["type"] == "range":
        return ["ArrowLeft"] if control["atMax"] else ["ArrowRight"]
    if control["tag"] == "select":
        return ["ArrowUp"] if control["lastOption"] else ["ArrowDown"]
    if control["type"] == "checkbox" or control["tag"] == "button":
        return ["Space"]
    return ["End", "5"]  # a text field: type one more digit


def unnamed_controls(root):
    """Controls without an accessible name, read from the browser's accessibility tree (aria_snapshot)."""
    unnamed = []
    for line in root.aria_snapshot().splitlines():
        item = line.strip().removeprefix("- ")
        role = item.split(" ", 1)[0].rstrip(":")
        if role in CONTROL_ROLES and not item[len(role):].lstrip().startswith('"'):
            unnamed.append(line.strip())
    return unnamed


def named_controls(root):
    """How many named controls the accessibility tree holds."""
    count = 0
    for line in root.aria_snapshot().splitlines():
        item = line.strip().removeprefix("- ")
        role = item.split(" ", 1)[0].rstrip(":")
        if role in CONTROL_ROLES and item[len(role):].lstrip().startswith('"'):
            count += 1
    return count


# The lowest contrast (WCAG ratio) of any text in the explorable against the background behind it.
CONTRAST = """root => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g).map(Number); return { rgb: m.slice(0, 3), a: m.length > 3 ? m[3] : 1 }; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (let n = el; n; n = n.parentElement) { const c = parse(getComputedStyle(n).backgroundColor);
    if (c.a > 0.5) return c.rgb; } return [255, 255, 255]; };
  let worst = { ratio: 99, text: '' };
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const el = t.parentElement;
    if (!t.textContent.trim() || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
    const fg = parse(style.color), bg = background(el);
    const rgb = fg.rgb.map((v, i) => v * fg.a * Number(style.opacity) + bg[i] * (1 - fg.a * Number(style.opacity)));
    const [hi, lo] = [lum(rgb), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < worst.ratio) worst = { ratio, text: t.textContent.trim().slice(0, 60), color: style.color, bg: String(bg) };
  }
  return worst;
}"""

# Anything of the explorable (or a control) past the right edge of a narrow screen, scrolling sideways, or spilling
# out of the figure over the words below it.
NARROW = """root => {
  const width = document.documentElement.clientWidth;
  const outside = [...root.querySelectorAll('input, select, button, label, p, svg')]
    .filter((el) => el.getClientRects().length && el.getBoundingClientRect().right > width + 1)
    .map((el) => el.id || el.className.baseVal || el.className || el.tagName);
  const figure = root.querySelector('.xent-figure').getBoundingClientRect();
  const spills = [...root.querySelectorAll('.xent-figure *')]  // drawn over the words below the figure
    .filter((el) => el.getClientRects().length && el.getBoundingClientRect().bottom > figure.bottom + 1)
    .map((el) => el.className.baseVal ?? el.className);
  const box = root.getBoundingClientRect();
  return { width, right: box.right, scrolls: root.scrollWidth > root.clientWidth + 1, outside, spills };
}"""

# Move the first slider 40 times and time each move to the updated figure (layout forced), in milliseconds.
LATENCY = """root => {
  const slider = root.querySelector('input[type=range]');
  const times = [];
  const low = Number(slider.min), high = Number(slider.max);
  for (let k = 0; k < 40; k++) {
    const before = root.dataset.inputs;
    const start = performance.now();
    slider.value = String(low + ((k % 20) + 1) * (high - low) / 21);
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    root.getBoundingClientRect();
    root.querySelector('.xent-message').offsetHeight;  // force layout of the update
    times.push(performance.now() - start);
    if (root.dataset.inputs === before) throw new Error('the slider did not change the inputs');
  }
  return times;
}"""


def record(name, value):
    """Keep a measurement in _build/measurements/NAME.json (one file each: tests run in parallel)."""
    MEASUREMENTS.mkdir(parents=True, exist_ok=True)
    (MEASUREMENTS / f"{name}.json").write_text(json.dumps(value) + "\n")


def record_latency(name, median):
    """Record one explorable's median latency, and the slowest of all recorded so far."""
    record(f"explorable_latency_ms_{name}", round(median, 3))
    medians = {
        path.stem.removeprefix("explorable_latency_ms_"): json.loads(path.read_text())
        for path in MEASUREMENTS.glob("explorable_latency_ms_*.json")
        if path.stem != "explorable_latency_ms_slowest"
    }
    slowest = max(medians, key=medians.get)
    record("explorable_latency_ms_slowest", {"explorable": slowest, "median_ms": medians[slowest]})


def finite(x):
    return math.isfinite(x)


# --- As a reader sees it ----------------------------------------------------------------------------------------

# The widths at which the harness looks at every explorable as a reader does: a phone and a laptop or projector.
WIDTHS = (390, 1280)
TEXT_PX = (11, 16)  # the range of every rendered text size in a figure, in CSS px

# What the explorable draws, as a reader sees it: every text's rendered size (SVG text through its viewBox), the
# boxes of its words and controls that overlap one another or are cut off by a box around them, the marks of a
# chart drawn over a label, the boxes that scroll sideways, words broken across lines, and each plotted value (a mark with data-y-value in an
# SVG with data-y-scale) with where it is drawn against where the chart's scale puts it.
LOOK = """root => {
  const shrink = (r, by) => ({ left: r.left + by, right: r.right - by, top: r.top + by, bottom: r.bottom - by });
  const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const shown = (el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden';
  const name = (el) => (el.getAttribute('id') || el.getAttribute('class') || el.tagName) + ' "' + (el.textContent || el.value || '').trim().slice(0, 30) + '"';
  const scaleOf = (svg) => { const vb = svg.viewBox.baseVal; return vb && vb.width ? svg.getBoundingClientRect().width / vb.width : 1; };
  // Every piece of text: one box per line of an HTML text node, one box per SVG <text>.
  const texts = [];
  const broken = [];  // words broken across lines ("row" as r/o/w): more lines than words
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const el = t.parentElement;
    if (!t.textContent.trim() || !shown(el) || el.closest('option, select')) continue;
    const svg = el.closest('svg');
    const px = parseFloat(getComputedStyle(el).fontSize) * (svg ? scaleOf(svg) : 1);
    if (svg) { texts.push({ el, box: el.getBoundingClientRect(), px, svg }); continue; }
    const range = document.createRange(); range.selectNodeContents(t);
    const lines = new Set();
    for (const box of range.getClientRects()) if (box.width > 0.5) { texts.push({ el, box, px }); lines.add(Math.round(box.top)); }
    if (lines.size > t.textContent.trim().split(/[\\s\\u2013-]+/).length) broken.push(name(el));
  }
  const controls = [...root.querySelectorAll('input, select, button')].filter(shown).map((el) => ({ el, box: el.getBoundingClientRect() }));
  const inFigure = (el) => el.closest('.xent-figure');
  const sizes = texts.filter((t) => inFigure(t.el)).map((t) => [name(t.el), Math.round(t.px * 10) / 10]);
  // Words over words, words over controls, controls over controls (each pair once; a line's own boxes excepted).
  const boxes = [...texts, ...controls];
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.el === b.el || a.el.contains(b.el) || b.el.contains(a.el)) continue;
    if (meets(shrink(a.box, 1.5), shrink(b.box, 1.5))) overlaps.push([name(a.el), name(b.el)]);
  }
  // Cut off: past the explorable's own box, or past a box around it that hides or scrolls what overflows.
  const rootBox = root.getBoundingClientRect();
  const clipped = [];
  for (const { el, box } of boxes) {
    if (box.right > rootBox.right + 1 || box.left < rootBox.left - 1) { clipped.push(name(el)); continue; }
    for (let n = el.parentElement; n && n !== root; n = n.parentElement) {
      const style = getComputedStyle(n);
      if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
      const frame = n.getBoundingClientRect();
      if (box.right > frame.right + 1 || box.left < frame.left - 1 || box.bottom > frame.bottom + 1 || box.top < frame.top - 1) clipped.push(name(el));
      break;
    }
  }
  const scrolls = [...root.querySelectorAll('*')].filter((el) => shown(el) && el.scrollWidth > el.clientWidth + 1 &&
    ['auto', 'scroll'].includes(getComputedStyle(el).overflowX)).map(name);
  // Marks of a chart over its labels: the area of a bar or dot, points along a line or curve (axes excepted).
  const covered = [];
  for (const svg of root.querySelectorAll('.xent-figure svg')) {
    const labels = texts.filter((t) => t.svg === svg).map((t) => ({ el: t.el, box: shrink(t.box, 2) }));
    const matrix = svg.getScreenCTM();
    for (const mark of svg.querySelectorAll('rect, circle, path, polyline, line')) {
      if (mark.classList.contains('xent-axis') || !shown(mark)) continue;
      let hit = null;
      if (mark.tagName === 'rect' || mark.tagName === 'circle') {
        const box = mark.getBoundingClientRect();
        hit = labels.find((l) => box.width > 0 && box.height > 0 && meets(box, l.box));
      } else {
        const length = mark.getTotalLength();
        const ctm = mark.getScreenCTM() || matrix;
        for (let s = 0; s <= length && !hit; s += 2) {
          const p = mark.getPointAtLength(s);
          const x = ctm.a * p.x + ctm.c * p.y + ctm.e, y = ctm.b * p.x + ctm.d * p.y + ctm.f;
          hit = labels.find((l) => x > l.box.left && x < l.box.right && y > l.box.top && y < l.box.bottom);
        }
      }
      if (hit) covered.push([mark.getAttribute('class') || mark.tagName, name(hit.el)]);
    }
  }
  // Each plotted value where the chart's scale puts it (in the SVG's units).
  const plotted = [];
  for (const mark of root.querySelectorAll('[data-y-value]')) {
    const svg = mark.closest('svg[data-y-scale]');
    const [v0, y0, v1, y1] = svg.dataset.yScale.split(' ').map(Number);
    const value = Number(mark.dataset.yValue);
    const box = mark.getBBox();
    const at = { center: box.y + box.height / 2, top: box.y, bottom: box.y + box.height }[mark.dataset.yAt];
    plotted.push({ mark: mark.getAttribute('class'), value, drawn: at, expected: y0 + ((value - v0) / (v1 - v0)) * (y1 - y0) });
  }
  return { sizes, overlaps, clipped, scrolls, covered, plotted, broken, words: root.innerText };
}"""


def look(root):
    """What the explorable draws as a reader sees it (see LOOK)."""
    return root.evaluate(LOOK)


def set_inputs(root, setting):
    """Type each value of a setting into the explorable's field for it, or choose it in its menu."""
    for name, value in setting.items():
        control = root.locator(f'[data-input="{name}"]').first
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)


def seen_problems(seen, fmt):
    """What a look (see LOOK) finds wrong: text outside TEXT_PX, overlaps, cut-off or scrolling boxes, marks over
    labels, and plotted values away from their place on the scale or not printed in the explorable's words."""
    low, high = TEXT_PX
    problems = [f"text of {px} px: {what}" for what, px in seen["sizes"] if not low <= px <= high]
    problems += [f"overlap: {a} and {b}" for a, b in seen["overlaps"]]
    problems += [f"cut off: {what}" for what in seen["clipped"]] + [f"scrolls sideways: {what}" for what in seen["scrolls"]]
    problems += [f"{mark} drawn over the label {label}" for mark, label in seen["covered"]]
    problems += [f"a word broken across lines: {what}" for what in seen["broken"]]
    for p in seen["plotted"]:
        if abs(p["drawn"] - p["expected"]) > 0.75:
            problems.append(f"{p['mark']} for {p['value']} drawn at y {p['drawn']:.2f}, its scale puts it at {p['expected']:.2f}")
        if fmt(p["value"]) not in seen["words"]:
            problems.append(f"{p['mark']} plots {fmt(p['value'])}, a number its words never print")
    return problems
