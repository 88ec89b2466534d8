"""The site for every reader: axe-core on every page in light and dark mode, alt text, headings, a 390 px phone.

axe-core (pinned in assets/package.json) runs once per page per mode, after the explorables have rendered and
MathJax has typeset the math, with all of its default rules. An automated scan finds only part of what can go
wrong; what it does find must be fixed at the source (see tools/book_extensions.py and assets/templates/).
"""

import re

import nbformat
import pytest
from bs4 import BeautifulSoup

from conftest import ROOT, SITE, toc_pages
from reading import reading_problems
from serving import WAIT_FOR_WIDGETS_AND_MATH  # tools/serving.py, on the path from conftest

AXE = ROOT / "assets" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}
# Violations axe-core reports that are not barriers, each with the reason, in the manner of pydata-sphinx-theme's
# own accessibility tests: (rule id, page name or "*", a piece of the element's selector, why it is not a barrier).
# None today: every serious or critical violation axe-core found on this site has been fixed.
FALSE_POSITIVES = []
GENERIC_ALT = {"png", "jpg", "svg", "image", "img", "figure", "output", "plot", "chart", "graph", "picture", "untitled"}

READY_JS = """
async () => {
""" + WAIT_FOR_WIDGETS_AND_MATH + """  await new Promise(r => setTimeout(r, 400));  // the tab stops for what scrolls are set 150 ms after a change
  return {widgets: !document.querySelector('script[type*="widget-state"]') || !!root.dataset.widgetsReady,
          scrollStops: !!root.dataset.scrollStops};
}
"""

# Every visible element that reaches past the sides of the window must sit inside a region that scrolls sideways
# and that a keyboard can reach (tabindex 0): anything else is text cut off or running past the page.
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const describe = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    [...el.classList].slice(0, 3).map(c => "." + c).join("");
  const container = el => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const overflow = getComputedStyle(a).overflowX;
      if (overflow !== "visible") return a;
    }
    return null;
  };
  const visuallyHidden = el => {  // clipped to nothing on purpose, for screen readers only (MathJax's MathML)
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).clip !== "auto") return true;
    }
    return false;
  };
  const offenders = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    if (box.right <= width + 0.5 && box.left >= -0.5) continue;
    if (visuallyHidden(el)) continue;
    const clip = container(el);
    const reachable = clip && /(auto|scroll)/.test(getComputedStyle(clip).overflowX) && clip.tabIndex >= 0
      && clip.scrollWidth > clip.clientWidth;
    if (!reachable) offenders.push(describe(el) + " in " + (clip ? describe(clip) : "the page") +
      ` (${Math.round(box.left)}..${Math.round(box.right)} px)`);
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, offenders: offenders.slice(0, 10),
          count: offenders.length};
}
"""


def open_ready(browser, site_url, name, **context_options):
    """A new browser context showing one page, its explorables rendered and its math typeset."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.goto(f"{site_url}/{name}.html", wait_until="load")
    ready = page.evaluate(READY_JS)
    assert ready["widgets"], f"{name}: the explorables did not render"
    assert ready["scrollStops"], f"{name}: the scroll tab stops (tools/book_extensions.py) did not run"
    return context, page


def is_false_positive(violation, node, name):
    """True if this violation on this element is one of FALSE_POSITIVES."""
    target = " ".join(str(part) for part in node["target"])
    return any(rule == violation["id"] and page in ("*", name) and piece in target
               for rule, page, piece, _ in FALSE_POSITIVES)


def blocking(results, name):
    """The serious and critical violations in an axe-core result, false positives left out, one line each."""
    lines = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        nodes = [node for node in violation["nodes"] if not is_false_positive(violation, node, name)]
        if nodes:
            targets = "; ".join(" ".join(map(str, node["target"])) for node in nodes[:3])
            lines.append(f"{violation['id']} ({violation['impact']}, {len(nodes)}x): {violation['help']}: {targets}")
    return lines


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.is_file():
        pytest.fail("axe-core is missing: run `make book` (npm ci installs it from assets/package-lock.json)")
    return AXE.read_text()


def article(name):
    """The page's own content (no theme navigation), parsed."""
    soup = BeautifulSoup((SITE / f"{name}.html").read_text(), "html.parser")
    return soup.select_one("article.bd-article") or soup.select_one("article") or soup


def alt_problem(alt):
    """Why an image's alt text does not say what the image shows, or None if it may."""
    if alt is None or not alt.strip():
        return "no alt text"
    text = alt.strip()
    if re.search(r"\.(png|jpe?g|svg|gif|webp)$", text, re.I) or "_images/" in text or text.lower() in GENERIC_ALT:
        return "a file name or a generic word, not a description"
    if len(text.split()) < 3:
        return "too short to say what it shows"
    return None


@pytest.mark.parametrize("name", toc_pages())
def test_every_figure_has_alt_text_that_says_what_it_shows(name):
    """Chapter owners set it with the cell metadata "mystnb": {"image": {"alt": "..."}}."""
    problems = [f"{img.get('src', '')[-40:]}: {alt_problem(img.get('alt'))} ({img.get('alt')!r})"
                for img in article(name).find_all("img") if alt_problem(img.get("alt"))]
    assert problems == [], f"{name}: {problems}; cells with a figure and no alt metadata: {cells_without_alt(name)}"


def cells_without_alt(name):
    """The first line of each code cell of the chapter whose output is an image with no alt text in its metadata."""
    path = ROOT / f"{name}.ipynb"
    if not path.is_file():
        return []
    cells = nbformat.read(path, as_version=4).cells
    return [
        cell.source.splitlines()[0] if cell.source else "(empty cell)"
        for cell in cells
        if cell.cell_type == "code"
        and any(key.startswith("image/") for output in cell.get("outputs", []) for key in output.get("data", {}))
        and not cell.metadata.get("mystnb", {}).get("image", {}).get("alt")
    ]


@pytest.mark.parametrize("name", toc_pages())
def test_headings_give_a_reading_order_one_h1_then_no_skipped_level(name):
    levels = [int(h.name[1]) for h in article(name).find_all(re.compile(r"^h[1-6]$"))]
    assert levels and levels[0] == 1 and levels.count(1) == 1, f"{name}: heading levels {levels}"
    skips = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert skips == [], f"{name}: a heading skips a level: {skips}"


@pytest.mark.parametrize("name", toc_pages())
def test_on_a_390_px_phone_nothing_is_cut_off_and_axe_core_finds_nothing_serious_in_light_or_dark_mode(
        browser, site_url, axe_source, name):
    """One load of the page serves both checks (each load of a chapter costs a second of CPU):
    - as a phone reader opens it, 390 px wide: nothing runs past the page or is cut off; what scrolls is reachable by
      keyboard; lines break where a reader expects (tests/reading.py);
    - then widened to 1280 px (the layout follows the window), axe-core with all of its default rules, once in
      light mode and once in dark mode."""
    context, page = open_ready(browser, site_url, name, viewport=PHONE, color_scheme="light")
    try:
        result = page.evaluate(OVERFLOW_JS)
        reading = reading_problems(page, name)
        page.set_viewport_size({"width": 1280, "height": 900})
        ready = page.evaluate(READY_JS)  # the scroll tab stops follow the new layout
        page.add_script_tag(content=axe_source)
        found = {}
        for mode in ("light", "dark"):
            page.emulate_media(color_scheme=mode)
            page.evaluate(f"document.documentElement.dataset.theme = '{mode}'")
            page.evaluate("Promise.all(document.getAnimations().map(a => a.finished))")  # colours fade in
            found[mode] = blocking(page.evaluate("axe.run(document, {resultTypes: ['violations']})"), name)
    finally:
        context.close()
    assert result["width"] == PHONE["width"]
    assert result["scrollWidth"] <= PHONE["width"], f"{name}: the page is {result['scrollWidth']} px wide: {result}"
    assert result["count"] == 0, f"{name}: {result['count']} elements run past the page or are cut off: {result}"
    problems = {check: found for check, found in reading.items() if found}
    assert problems == {}, f"{name}: {problems}"
    assert ready["scrollStops"], f"{name}: the scroll tab stops did not run at 1280 px"
    assert found == {"light": [], "dark": []}, f"{name}: {found}"
