"""The explorables' test harness: what every explorable must do in a real browser, checked the same way for each.

Adding an explorable to the harness is one entry in EXPLORABLES: the page that shows it, its widget class (whose
``compute`` is torch's answer) and a grid of inputs. tests/test_explorables.py then checks, for each entry:
the page's JavaScript against torch on the grid (same nan/inf pattern, finite values within 1 ulp of the format,
the same words), every control moved by keyboard, bad input (NaN, text, 1e400) answered with a clear message and
no page error, an accessible name for every control, readable text in light and dark mode, a usable 390 px
screen, the median latency of a move (recorded in _build/measurements/), and a screenshot after a move (in
_build/screenshots/).
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
        for push_class, push in [(0, "0"), (2, "146"), (2, "-60"), (1, "1e4")]
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
    """Chapter 2's three logits, temperatures from sharp to flat, constants from none to overflow and underflow."""
    return [
        dict(z0=z0, z1=z1, z2=z2, temperature=t, shift=c)
        for z0, z1, z2 in [("1.3877", "-1.2656", "-0.9112"), ("3", "3", "-2"), ("-10", "0", "10")]
        for t in ["0.1", "0.5", "1", "5"]
        for c in ["0", "5", "-30", "50", "90", "-120"]
    ]


def naive_grid():
    """Chapter 3's running example scaled, each row's target logit pushed both ways."""
    return [
        dict(scale=s, row=row, push=p)
        for s in ["0", "1", "10", "40", "45", "70"]
        for row in range(5)
        for p in ["0", "-60", "-110", "90"]
    ]


EXPLORABLES = [
    Explorable("bce", BCEExplorer, "chapters/01_sigmoid.html", bce_grid),
    Explorable("softmax", SoftmaxExplorer, "chapters/02_softmax.html", softmax_grid),
    Explorable("naive", NaiveLossExplorer, "chapters/03_naive_loss.html", naive_grid),
    Explorable("ox", OverflowExplorer, "chapters/04_log_sum_exp.html", overflow_grid),
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
    """Load the explorable's page; return (the Playwright page, a locator of the explorable's root)."""
    browser_page = page.page
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
