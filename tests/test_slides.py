"""The lecture decks (tools/slides.py), read in a real headless Chromium at 1280 x 720.

Every chapter in _toc.yml has a deck under _build/slides (`make slides`); each one follows its notebook's slide
metadata, fits every slide in 1280 x 720, renders its math and widgets from files beside it, and asks nothing of
any other host. The instructors' page lists exactly the book's exercises.
"""

import dataclasses
import pathlib
import re
import urllib.parse

import nbformat
import pytest

from conftest import ROOT, SHOTS, Page, serve, toc_chapters
from explorables import EXPLORABLES, inputs_of

SLIDES = ROOT / "_build" / "slides"
INSTRUCTORS = ROOT / "chapters" / "instructors.md"
WIDTH, HEIGHT = 1280, 720
TOLERANCE = 1  # px: subpixel rounding
NOTEBOOKS = toc_chapters()
IDS = [path.stem for path in NOTEBOOKS]
CHAPTER_4 = ROOT / "chapters" / "04_log_sum_exp.ipynb"

import myst_blocks  # noqa: E402  (tools/myst_blocks.py, on the path from conftest)
import slides as tool  # noqa: E402  (tools/slides.py, on the path from conftest)

READY = """() => !!(window.Reveal && Reveal.isReady() && window.MathJax && MathJax.startup && MathJax.startup.promise
    && (!document.querySelector('script[type*=widget-state]') || document.documentElement.dataset.widgetsReady))"""

# Visit every slide and measure it in slide pixels (Reveal scales the 1280 x 720 slide to the window).
MEASURE = """() => {
  Reveal.configure({ transition: "none", backgroundTransition: "none" });
  const frame = document.querySelector(".reveal .slides");
  const text = el => el ? el.textContent.replace(/[\\u00b6\\u2061-\\u2064]/g, "").replace(/\\s+/g, " ").trim() : "";
  const results = [];
  for (const slide of Reveal.getSlides()) {
    const { h, v } = Reveal.getIndices(slide);
    Reveal.slide(h, v);
    const scale = Reveal.getScale();
    const box = frame.getBoundingClientRect();
    const top = el => (el.getBoundingClientRect().top - box.top) / scale;
    const bottom = el => (el.getBoundingClientRect().bottom - box.top) / scale;
    let height = 0, width = 0;  // the bottom and right edge of the lowest and widest box (margins are not ink)
    const clipped = [];
    for (const el of slide.querySelectorAll("*")) {
      if (el.closest("aside.notes") || el.closest("mjx-container")) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      height = Math.max(height, (r.bottom - box.top) / scale);
      width = Math.max(width, (r.right - box.left) / scale);
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible") {
        clipped.push(el.tagName.toLowerCase() + "." + [...el.classList].join("."));
      }
    }
    const heading = slide.querySelector("h1, h2, h3, h4");
    const cells = [...slide.querySelectorAll(".jp-Cell")].filter(c => !c.closest("aside.notes")).map(c => ({
      id: c.id.replace(/^cell-id=/, ""),
      kind: c.classList.contains("jp-CodeCell") ? "code" : "markdown",
      top: top(c), bottom: bottom(c),
    }));
    results.push({
      h, v, height, width, clipped, cells,
      heading: heading ? text(heading) : "(no heading) " + text(slide).slice(0, 60),
      widgets: slide.querySelectorAll(".xent-widget").length,
    });
  }
  Reveal.slide(0, 0);
  return results;
}"""


def deck_path(notebook):
    return SLIDES / tool.deck_name(notebook)


def read(notebook):
    return nbformat.read(notebook, as_version=4)


def visible_cells(nb):
    """The cells that reach the deck: all but those tagged remove-cell."""
    return [cell for cell in nb.cells if "remove-cell" not in cell.metadata.get("tags", [])]


@pytest.fixture(scope="session")
def slides_url():
    """_build/slides, served over HTTP on 127.0.0.1; the decks must be built from the notebooks, tools and
    templates as they are now (their fingerprint, tools/fingerprint.py)."""
    missing = [deck_path(nb).name for nb in NOTEBOOKS if not deck_path(nb).is_file()]
    if missing:
        pytest.fail(f"decks missing: {missing}: run `make slides`")
    stamp = SLIDES / tool.STAMP_NAME
    if not stamp.is_file() or stamp.read_text().strip() != tool.inputs_digest(NOTEBOOKS):
        pytest.fail("the decks were built from other notebooks, tools or templates than these: run `make slides`")
    with serve(SLIDES) as url:
        yield url


def open_deck(page, url):
    """Load a deck at 1280 x 720 and wait for reveal.js, MathJax, the widgets and the fonts."""
    page.page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.page.goto(url)
    page.page.wait_for_load_state("load")
    page.page.wait_for_function(READY, timeout=20000)
    page.page.evaluate(
        "Promise.race([MathJax.startup.promise, new Promise((_, fail) => setTimeout(() => fail(new Error("
        "'MathJax did not finish typesetting')), 15000))])"
    )
    page.page.evaluate("document.fonts.ready.then(() => true)")
    return page.page


@dataclasses.dataclass
class Deck:
    notebook: pathlib.Path
    slides: list
    horizontal: int
    math: int
    math_errors: int
    leftover_dollars: list
    views: int
    rendered: int
    widget_notes: list
    blocked: list
    failed: list
    errors: list
    screenshot: pathlib.Path


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=IDS)
def deck(request, browser, slides_url):
    """One chapter's deck, opened once: every slide measured, the first one photographed."""
    notebook = request.param
    page = Page(browser)
    try:
        browser_page = open_deck(page, f"{slides_url}/{deck_path(notebook).name}")
        slides = browser_page.evaluate(MEASURE)
        SHOTS.mkdir(parents=True, exist_ok=True)
        screenshot = SHOTS / f"slides-{notebook.stem}.png"
        browser_page.screenshot(path=str(screenshot))
        yield Deck(
            notebook=notebook,
            slides=slides,
            horizontal=browser_page.evaluate("Reveal.getHorizontalSlides().length"),
            math=browser_page.locator("mjx-container").count(),
            math_errors=browser_page.locator("mjx-merror").count(),
            leftover_dollars=browser_page.eval_on_selector_all(
                ".jp-MarkdownOutput", "els => els.map(e => e.textContent).filter(t => t.includes('$$'))"
            ),
            views=browser_page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count(),
            rendered=browser_page.locator(".xent-widget[data-rendered=true]").count(),
            widget_notes=browser_page.locator(".xent-widget-note").all_inner_texts(),
            blocked=list(page.blocked),
            failed=list(page.failed),
            errors=list(page.errors),
            screenshot=screenshot,
        )
    finally:
        page.close()


def overflowing(slides):
    """The slides whose content passes 1280 x 720 (or hides inside a scrolling box)."""
    return [
        s for s in slides if s["height"] > HEIGHT + TOLERANCE or s["width"] > WIDTH + TOLERANCE or s["clipped"]
    ]


def suggested_breaks(slide, nb):
    """How to make a slide fit: the notebook cells to mark `subslide` (greedily, each code cell kept with the
    prose that introduces it), or the cells to shorten when even that does not fit."""
    index = {cell.get("id"): i for i, cell in enumerate(nb.cells)}
    cells = sorted(slide["cells"], key=lambda c: c["top"])

    def shorten(first, last, origin):
        cells_named = f"cells {index.get(first['id'], '?')}-{index.get(last['id'], '?')}"
        return f"{cells_named} need {last['bottom'] - origin:.0f} px: shorten them"

    # origin: where the current part starts, shifted so that its first cell sits as high as the slide's first cell
    fixes, start, origin = [], 0, 0.0
    for i, cell in enumerate(cells):
        if i == start or cell["bottom"] - origin <= HEIGHT:
            continue
        cut = i - 1 if cell["kind"] == "code" and cells[i - 1]["kind"] == "markdown" else i
        if cut <= start:  # the prose and the code it introduces do not fit together even on a slide of their own
            if cell["bottom"] - cell["top"] + cells[0]["top"] > HEIGHT:
                fixes.append(shorten(cells[start], cell, origin))
                start = i
                continue
            cut = i  # the code fits alone: it gets the next slide, its prose stays on this one
        fixes.append(f"cell {index.get(cells[cut]['id'], '?')} -> subslide")
        start, origin = cut, cells[cut]["top"] - cells[0]["top"]
        if cell["bottom"] - origin > HEIGHT:
            fixes.append(shorten(cells[cut], cell, origin))
            start = i
    return fixes


def overflow_report(deck):
    nb = read(deck.notebook)
    lines = []
    for s in overflowing(deck.slides):
        size = f"{s['width']:.0f} x {s['height']:.0f} px"
        clipped = f", scrolls inside {sorted(set(s['clipped']))}" if s["clipped"] else ""
        fixes = "; ".join(suggested_breaks(s, nb)) or "shrink its content"
        lines.append(f"  slide {s['h']}.{s['v']} {s['heading']!r}: {size}{clipped}; suggested: {fixes}")
    return "\n".join(lines)


# --- The decks, in the browser -------------------------------------------------------------------------------


def test_deck_has_one_horizontal_slide_per_slide_cell_and_more_than_a_few_slides(deck):
    nb = read(deck.notebook)
    slide_cells = [c for c in visible_cells(nb) if c.metadata.get("slideshow", {}).get("slide_type") == "slide"]
    assert len(deck.slides) > 5, f"only {len(deck.slides)} slides"
    assert deck.horizontal == len(slide_cells)


def test_no_slide_overflows_1280_by_720(deck):
    assert overflowing(deck.slides) == [], (
        f"{deck.notebook.name}: slides that do not fit {WIDTH} x {HEIGHT} (h.v, heading, size, the notebook "
        f"metadata change that would split them):\n{overflow_report(deck)}"
    )


def test_deck_loads_nothing_from_outside_its_folder_and_has_no_errors(deck):
    assert deck.blocked == [], f"requests to other hosts: {deck.blocked}"
    assert deck.failed == [], f"failed or missing files: {deck.failed}"
    assert deck.errors == [], f"page errors: {deck.errors}"


def test_math_is_typeset_by_the_local_mathjax(deck):
    markdown = "\n".join(c.source for c in read(deck.notebook).cells if c.cell_type == "markdown")
    if "$" not in markdown:
        pytest.skip("no math in this chapter")
    assert deck.math > 0, "no mjx-container: MathJax did not typeset"
    assert deck.math_errors == 0, "TeX errors on the slides"
    assert deck.leftover_dollars == [], "unrendered $$ left on a slide"


def test_every_widget_renders_from_the_saved_state(deck):
    assert deck.rendered == deck.views, f"{deck.views} widget outputs, {deck.rendered} rendered: {deck.widget_notes}"
    assert deck.widget_notes == []


def test_first_slide_is_photographed(deck):
    assert deck.screenshot.stat().st_size > 10_000


@pytest.mark.parametrize("explorable", EXPLORABLES, ids=[e.name for e in EXPLORABLES])
def test_explorable_renders_on_its_slide_from_the_saved_state_and_moves(browser, slides_url, explorable):
    notebook = ROOT / explorable.page.replace(".html", ".ipynb")
    page = Page(browser)
    try:
        browser_page = open_deck(page, f"{slides_url}/{deck_path(notebook).name}")
        root = browser_page.locator(explorable.selector).first
        root.wait_for(state="attached")
        indices = root.evaluate("el => Reveal.getIndices(el.closest('.slides section:not(.stack)'))")
        browser_page.evaluate("Reveal.configure({ transition: 'none' })")  # a near slide would be measured mid-slide
        browser_page.evaluate(f"Reveal.slide({indices['h']}, {indices['v']})")
        root.wait_for(state="visible")
        message = root.locator(".xent-message").inner_text()
        assert message == explorable.widget.compute(inputs_of(root)).message  # drawn from the saved state
        box = root.bounding_box()
        assert box["y"] + box["height"] <= HEIGHT and box["x"] + box["width"] <= WIDTH, box
        browser_page.screenshot(path=str(SHOTS / f"slides-explorable-{explorable.name}.png"))
        before = root.get_attribute("data-inputs")
        root.locator("input[type=range]").first.focus()
        browser_page.keyboard.press("ArrowRight")  # moves the slider, not the deck
        now = browser_page.evaluate("Reveal.getIndices()")
        assert (now["h"], now["v"]) == (indices["h"], indices["v"])
        assert root.get_attribute("data-inputs") != before
        assert page.blocked == [] and page.errors == []
    finally:
        page.close()


class FilePage(Page):
    """A Page for file:// decks: files may load, any other host is blocked and counted."""

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


def test_chapter_4_deck_works_opened_from_disk(browser, slides_url):  # slides_url: the decks are fresh
    page = FilePage(browser)
    try:
        browser_page = open_deck(page, deck_path(CHAPTER_4).as_uri())
        assert browser_page.locator("mjx-container").count() > 0
        assert browser_page.locator(".xent-ox").count() == 1
        assert page.blocked == [] and page.errors == [] and page.failed == []
    finally:
        page.close()


# --- The decks, as files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_deck_refers_only_to_files_beside_it(notebook, slides_url):
    html = deck_path(notebook).read_text()
    references = re.findall(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)"', html)
    outside = [ref for ref in references if urllib.parse.urlsplit(ref).scheme not in ("", "data")]
    assert outside == []
    local = {ref.split("#")[0].split("?")[0] for ref in references if not ref.startswith("data:")}
    assert sorted(ref for ref in local if not (SLIDES / ref).is_file()) == []
    assert {"reveal.js/dist/reveal.js", "mathjax/startup.js", "widgets.js"} <= local


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_deck_drops_removed_cells_and_myst_syntax(notebook, slides_url):
    html = deck_path(notebook).read_text()
    removed = [c.source for c in read(notebook).cells if "remove-cell" in c.metadata.get("tags", [])]
    assert [source for source in removed if source.strip() and source.strip() in html] == []
    assert "colab-badge.svg" not in html
    for leftover in ["{exercise}", "{solution-start}", "{solution-end}", ":::{", "{ref}`"]:
        assert leftover not in html


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_widget_state_is_written_once_when_the_notebook_has_widgets(notebook, slides_url):
    html = deck_path(notebook).read_text()
    has_state = "application/vnd.jupyter.widget-state+json" in read(notebook).metadata.get("widgets", {})
    assert html.count('type="application/vnd.jupyter.widget-state+json"') == int(has_state)


# --- tools/slides.py, on small notebooks ---------------------------------------------------------------------


def small_chapter():
    cells = [
        nbformat.v4.new_markdown_cell("# Title\n\n:::{admonition} Learning goals\n- one\n:::"),
        nbformat.v4.new_markdown_cell("## Exercises\n\nSee {ref}`ex-99-demo` and [next](02_softmax.ipynb)."),
        nbformat.v4.new_markdown_cell("```{exercise} A demo\n:label: ex-99-demo\n\nDo it.\n```"),
        nbformat.v4.new_markdown_cell("```{solution-start} ex-99-demo\n:class: dropdown\n```"),
        nbformat.v4.new_code_cell("assert True"),
        nbformat.v4.new_markdown_cell("```{solution-end}\n```"),
        nbformat.v4.new_markdown_cell("After the solution."),
    ]
    cells[1].metadata["slideshow"] = {"slide_type": "slide"}
    cells[2].metadata["slideshow"] = {"slide_type": "subslide"}
    return nbformat.v4.new_notebook(cells=cells)


def test_myst_becomes_boxes_and_refs_become_exercise_titles():
    nb = tool.prepare(small_chapter(), decks={"02_softmax.ipynb"})
    assert '<div class="admonition admonition">' in nb.cells[0].source and "Learning goals" in nb.cells[0].source
    assert "*A demo*" in nb.cells[1].source and "](02_softmax.slides.html)" in nb.cells[1].source
    assert nb.cells[2].source.startswith('<div class="admonition exercise">')


def test_a_solution_gets_its_own_vertical_slide_under_its_exercise():
    nb = tool.prepare(small_chapter())
    types = [c.metadata.get("slideshow", {}).get("slide_type", "-") for c in nb.cells]
    sources = [c.source for c in nb.cells]
    assert sources[3] == "### Solution: A demo" and types[3] == "subslide"
    assert "solution-end" not in "".join(sources)
    assert types[-1] == "subslide"  # the lesson goes on below the solution


def test_solutions_can_go_to_the_speaker_notes_or_be_left_out():
    notes = tool.prepare(small_chapter(), solutions="notes")
    assert [c.metadata["slideshow"]["slide_type"] for c in notes.cells[3:5]] == ["notes", "notes"]
    omitted = tool.prepare(small_chapter(), solutions="omit")
    assert "assert True" not in [c.source for c in omitted.cells]


def test_myst_in_code_stays_as_written_and_a_nested_directive_becomes_a_box():
    """Code spans, fenced code and `{code}` bodies are not MyST (tools/myst_blocks.py reads them as code)."""
    source = (
        "Write `{ref}`label`` to link {ref}`ex-99-demo`.\n\n"
        "````markdown\n```{note}\nshown {ref}`ex-99-demo`\n```\n````\n\n"
        "```{exercise} A demo\n:label: ex-99-demo\n:::{hint}\nInside.\n:::\n```"
    )
    out = tool.myst_to_markdown(source, tool.directive_labels(source))
    assert out.startswith("Write `{ref}`label`` to link *A demo*.")
    assert "```{note}\nshown {ref}`ex-99-demo`\n```" in out
    assert '<div class="admonition hint">' in out and "Inside." in out


# --- The instructors' page -----------------------------------------------------------------------------------


def exercise_labels(notebooks):
    """{label: notebook stem} of every exercise in the chapter notebooks."""
    labels = {}
    for notebook in notebooks:
        for cell in read(notebook).cells:
            if cell.cell_type == "markdown":
                for block in myst_blocks.walk(cell.source):  # tools/myst_blocks.py, the tools' MyST reader
                    if block.name == "exercise" and block.options.get("label", "").startswith("ex-"):
                        labels[block.options["label"]] = notebook.stem
    return labels


def test_instructors_page_lists_every_exercise_and_only_those():
    chapters = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    in_book = exercise_labels(chapters)
    page = INSTRUCTORS.read_text()
    listed = set(re.findall(r"\bex-\d\d-[\w-]*\w", page))
    assert sorted(set(in_book) - listed) == [], "exercises missing from chapters/instructors.md"
    assert sorted(listed - set(in_book)) == [], "chapters/instructors.md lists exercises no chapter has"


def test_instructors_page_puts_each_exercise_in_its_own_chapters_row():
    chapters = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    rows = [line for line in INSTRUCTORS.read_text().splitlines() if line.startswith("|") and "ex-" in line]
    wrong = []
    for label, stem in exercise_labels(chapters).items():
        row = next((line for line in rows if f"<{label}>" in line or f"`{label}`" in line), "")
        if f"{stem}.ipynb" not in row:
            wrong.append(label)
    assert wrong == []
