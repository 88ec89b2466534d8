"""The built site, read in a real headless Chromium: every page, nothing from outside, the live overflow explorer."""

import json
import math
import statistics

import pytest
import torch

import notebooks as tool  # tools/notebooks.py, on the path from conftest
from conftest import SHOTS, SITE, Page, toc_pages, toc_chapters
from xentbook.explorer import BASE_LOGITS, exp_overflow_threshold, explore
from xentbook.floats import ulp
from xentbook.scratch import log_softmax, softmax

CHAPTER_4 = "chapters/04_log_sum_exp.html"
WIDGET = ".xent-ox"
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def open_page(page, site_url, path):
    """Load a page of the site and wait until its widgets (if any) have rendered."""
    page.page.goto(f"{site_url}/{path}")
    page.page.wait_for_load_state("load")
    page.page.wait_for_function("!document.querySelector('script[type*=widget-state]') || document.documentElement.dataset.widgetsReady")
    return page.page


def widget_data(browser_page):
    """The explorer's full-precision results, from its data attributes."""
    return browser_page.eval_on_selector(WIDGET, "el => ({...el.dataset})")


@pytest.mark.parametrize("name", toc_pages())
def test_every_page_in_the_toc_is_built(name):
    assert (SITE / f"{name}.html").is_file(), f"no page for {name}"


@pytest.mark.parametrize("name", toc_pages())
def test_page_loads_nothing_from_outside_the_site_and_has_no_errors(page, site_url, name):
    browser_page = open_page(page, site_url, f"{name}.html")
    browser_page.wait_for_timeout(300)  # let late requests (fonts, MathJax components) start
    assert page.blocked == [], f"requests to other hosts: {page.blocked}"
    assert page.failed == [], f"failed or missing resources: {page.failed}"
    assert page.errors == [], f"page errors: {page.errors}"


@pytest.mark.parametrize("notebook", toc_chapters(), ids=lambda p: p.stem)
def test_chapter_page_launches_its_own_notebook_in_colab_and_offers_the_ipynb(notebook):
    config = tool.load_config()
    html = (SITE / "chapters" / f"{notebook.stem}.html").read_text()
    assert f'href="{tool.colab_url(config, notebook)}"' in html
    assert f'href="../_sources/chapters/{notebook.name}"' in html
    edition = notebook.parent.parent / tool.EDITION_DIR / notebook.name  # the Colab edition (tools/colab_edition.py)
    assert (SITE / "_sources" / "chapters" / notebook.name).read_bytes() == edition.read_bytes()


def test_pages_link_to_previous_and_next_in_reading_order(page, site_url):
    names = toc_pages()
    for before, name, after in zip(names, names[1:], names[2:]):
        browser_page = open_page(page, site_url, f"{name}.html")
        previous = browser_page.locator("a.left-prev").get_attribute("href")
        following = browser_page.locator("a.right-next").get_attribute("href")
        assert previous.split("/")[-1] == f"{before.split('/')[-1]}.html", (name, previous)
        assert following.split("/")[-1] == f"{after.split('/')[-1]}.html", (name, following)


def test_search_finds_chapters_with_no_network(page, site_url):
    browser_page = open_page(page, site_url, "search.html?q=logsumexp")
    browser_page.wait_for_selector("#search-results li", timeout=15000)
    hits = browser_page.locator("#search-results li a").all_inner_texts()
    assert any("log-sum-exp" in hit.lower() for hit in hits), hits
    assert page.blocked == []


def test_site_works_from_a_folder_on_disk_like_a_usb_stick(browser):
    reader = Page(browser)
    try:
        browser_page = reader.page
        browser_page.goto((SITE / CHAPTER_4).as_uri())
        browser_page.wait_for_function("document.documentElement.dataset.widgetsReady")
        browser_page.wait_for_selector("mjx-container", timeout=15000)
        browser_page.locator(f"{WIDGET} input[type=text][id$='-scale']").first.fill("70")
        assert "overflows float32" in browser_page.locator(f"{WIDGET} .xent-ox-message").first.inner_text()
        assert reader.errors == [] and reader.blocked == []
    finally:
        reader.close()


def test_math_is_rendered_by_the_local_mathjax(page, site_url):
    browser_page = open_page(page, site_url, CHAPTER_4)
    browser_page.wait_for_selector("mjx-container", timeout=15000)
    assert browser_page.locator("mjx-container").count() > 3
    assert "$$" not in browser_page.inner_text("main")


def test_overflow_explorer_renders_from_saved_state(page, site_url):
    browser_page = open_page(page, site_url, CHAPTER_4)
    explorer = browser_page.locator(WIDGET).first
    explorer.wait_for()
    data = widget_data(browser_page)
    expected = explore(scale=1.0)
    assert data["ok"] == "true"
    assert float(data["stableLoss"]) == pytest.approx(expected.stable_loss, rel=1e-6)
    assert "agree" in explorer.inner_text()
    assert "torch's answer for these inputs" in explorer.inner_text()  # the saved kernel state shows too


def test_moving_the_slider_past_overflow_turns_naive_nan_while_stable_matches_torch(page, site_url):
    browser_page = open_page(page, site_url, CHAPTER_4)
    scale = 70.0  # largest logit 1.3877 * 70 = 97.1, past float32's 88.72
    assert max(BASE_LOGITS) * scale > exp_overflow_threshold("float32")
    browser_page.locator(f"{WIDGET} input[type=range][id$='-scale-slider']").first.fill(str(scale))
    explorer = browser_page.locator(WIDGET).first
    naive_row = explorer.locator("tr[data-row=naive]").inner_text()
    assert "nan" in naive_row and "inf" in naive_row
    data = widget_data(browser_page)
    torch_result = explore(scale=scale)
    assert float(data["stableLoss"]) == torch_result.stable_loss  # same float32 value
    assert math.isfinite(float(data["stableLoss"]))
    assert data["naiveLoss"] == "Infinity" and torch_result.naive_loss == math.inf
    assert "overflows float32" in explorer.locator(".xent-ox-message").inner_text()
    assert "no Python kernel" in explorer.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    explorer.scroll_into_view_if_needed()
    browser_page.screenshot(path=str(SHOTS / "chapter4-explorer-past-overflow.png"))


@pytest.mark.parametrize("typed", ["NaN", "inf", "abc", "1e999", "1e39"])
def test_typing_bad_input_shows_a_message_not_an_error(page, site_url, typed):
    browser_page = open_page(page, site_url, CHAPTER_4)
    field = browser_page.locator(f"{WIDGET} input[type=text][id$='-scale']").first
    field.fill(typed)
    explorer = browser_page.locator(WIDGET).first
    message = explorer.locator(".xent-ox-message").inner_text()
    assert message == explore(scale=typed).message  # the browser says what the Python side says
    assert field.get_attribute("aria-invalid") == "true"
    assert page.errors == []
    field.fill("2")
    assert "agree" in explorer.locator(".xent-ox-message").inner_text()  # not frozen


def test_explorer_controls_are_reachable_by_keyboard(page, site_url):
    browser_page = open_page(page, site_url, CHAPTER_4)
    browser_page.locator(f"{WIDGET} select").first.focus()
    reached = []
    for _ in range(6):
        browser_page.keyboard.press("Tab")
        reached.append(browser_page.evaluate("document.activeElement.id"))
    for suffix in ["-scale-slider", "-scale", "-class", "-push-slider", "-push"]:
        assert any(name.endswith(suffix) for name in reached), (suffix, reached)
    slider = browser_page.locator(f"{WIDGET} input[id$='-scale-slider']").first
    slider.focus()
    before = widget_data(browser_page)["stableLoss"]
    browser_page.keyboard.press("ArrowRight")
    assert widget_data(browser_page)["stableLoss"] != before


def test_explorer_is_readable_in_dark_mode(browser, site_url):
    dark = Page(browser, color_scheme="dark")
    try:
        browser_page = open_page(dark, site_url, CHAPTER_4)
        browser_page.evaluate("document.documentElement.dataset.theme = 'dark'")
        colors = browser_page.eval_on_selector(
            f"{WIDGET} .xent-ox-message",
            "el => [getComputedStyle(el).color, getComputedStyle(document.body).backgroundColor]",
        )
        text, background = (rgb_luminance(c) for c in colors)
        assert text > background + 0.4, colors  # light text on a dark page
        SHOTS.mkdir(parents=True, exist_ok=True)
        browser_page.locator(WIDGET).first.screenshot(path=str(SHOTS / "chapter4-explorer-dark.png"))
    finally:
        dark.close()


def rgb_luminance(css_color):
    """Relative luminance (0 dark to 1 light) of a CSS rgb()/rgba() colour."""
    parts = css_color[css_color.index("(") + 1 : css_color.index(")")].replace("/", " ").replace(",", " ").split()
    red, green, blue = (float(v) / 255 for v in parts[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def grid_rows():
    """Rows of three logits around every format's overflow threshold, plus ordinary and extreme rows."""
    torch.manual_seed(0)
    rows = [
        [88.7228, 0.0, -1.0],
        [88.7229, 0.0, -1.0],
        [0.0, 88.7228, 88.7229],
        [11.0859, 0.0, -1.0],
        [11.0938, 0.0, -1.0],
        [89.0, 88.0, -89.0],
        [1e4, 0.0, -1e4],
        [-1e4, -1e4 + 1.0, -1e4 + 2.0],
        [-200.0, 0.0, 1.0],
        list(BASE_LOGITS),
    ]
    rows += (torch.randn(12, 3) * 5).tolist()
    return rows


@pytest.mark.parametrize("name", list(DTYPES))
def test_page_javascript_and_torch_agree_on_naive_and_stable_softmax(page, site_url, name):
    browser_page = open_page(page, site_url, CHAPTER_4)
    rows = grid_rows()
    from_js = browser_page.evaluate(
        """async ([format, rows]) => {
            const state = JSON.parse(document.querySelector('script[type*=widget-state]').textContent).state;
            const esm = Object.values(state).find((m) => m.state._esm).state._esm;
            const url = URL.createObjectURL(new Blob([esm], { type: 'text/javascript' }));
            const m = await import(url);
            const text = (xs) => xs.map(String);  // keep NaN and Infinity through JSON
            return rows.map((row) => {
                const logits = row.map((v) => m.op(format, v));
                const naive = m.naiveSoftmax(format, logits);
                const stable = m.stableSoftmax(format, logits);
                return { naive: text(naive.probs), naiveLog: text(naive.logProbs),
                         stable: text(stable.probs), stableLog: text(stable.logProbs) };
            });
        }""",
        [name, rows],
    )
    dtype = DTYPES[name]
    for row, js in zip(rows, from_js):
        logits = torch.tensor(row, dtype=torch.float64).to(dtype)
        naive = softmax(logits)
        stable_log = log_softmax(logits)
        expected = {"naive": naive, "naiveLog": torch.log(naive), "stable": torch.exp(stable_log), "stableLog": stable_log}
        for key, reference in expected.items():
            got = torch.tensor([float(v) for v in js[key]], dtype=torch.float64)
            assert torch.equal(torch.isnan(got), torch.isnan(reference)), (name, row, key, js[key], reference)
            assert torch.equal(torch.isinf(got), torch.isinf(reference)), (name, row, key, js[key], reference)
            finite = torch.isfinite(reference)
            error = (got[finite] - reference[finite].double()).abs()
            assert (error <= ulp(reference[finite])).all(), (name, row, key, js[key], reference)


SETTINGS = [
    (1, 0, 0, "float32"),
    (70, 0, 0, "float32"),
    (1, 1e4, 2, "float32"),
    (1, -200, 2, "float32"),
    (10, 0, 0, "float16"),
    (20, -100, 0, "float16"),
    (64, 0, 1, "bfloat16"),
    (500, 0, 0, "float64"),
    ("1e39", 0, 0, "float32"),
]


def test_page_explains_every_setting_in_the_same_words_as_python(page, site_url):
    browser_page = open_page(page, site_url, CHAPTER_4)
    messages = browser_page.evaluate(
        """async (settings) => {
            const state = JSON.parse(document.querySelector('script[type*=widget-state]').textContent).state;
            const model = Object.values(state).find((m) => m.state._esm).state;
            const url = URL.createObjectURL(new Blob([model._esm], { type: 'text/javascript' }));
            const m = await import(url);
            return settings.map(([scale, push, pushClass, format]) => m.explore({
                scale: String(scale), push: String(push), pushClass, format, base: model.base, target: model.target,
            }).message);
        }""",
        SETTINGS,
    )
    for (scale, push, push_class, dtype), message in zip(SETTINGS, messages):
        assert message == explore(str(scale), str(push), push_class, dtype).message, (scale, push, push_class, dtype)


def test_slider_to_readout_takes_under_one_frame(page, site_url):
    browser_page = open_page(page, site_url, CHAPTER_4)
    times = browser_page.evaluate(
        """() => {
            const root = document.querySelector('.xent-ox');
            const slider = root.querySelector('input[id$="-scale-slider"]');
            const times = [];
            for (let k = 0; k < 40; k++) {
                const start = performance.now();
                slider.value = String(40 + k);
                slider.dispatchEvent(new Event('input', { bubbles: true }));
                root.querySelector('.xent-ox-message').getBoundingClientRect();  // force layout of the update
                if (!root.querySelector('.xent-ox-logits').textContent) throw new Error('no readout');
                times.push(performance.now() - start);
            }
            return times;
        }"""
    )
    median = statistics.median(times)
    record("slider_to_readout_ms_median", round(median, 3))
    record("slider_to_readout_ms_max", round(max(times), 3))
    assert median < 16, times


def test_chapter_4_page_weighs_under_2_mb(page, site_url):
    browser_page = open_page(page, site_url, CHAPTER_4)
    browser_page.wait_for_selector("mjx-container", timeout=15000)
    browser_page.wait_for_timeout(500)
    total = browser_page.evaluate(
        """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
                 .reduce((sum, entry) => sum + entry.decodedBodySize, 0)"""
    )
    record("chapter4_page_bytes", total)
    assert 0 < total < 2_000_000


def record(name, value):
    """Keep a measurement in _build/measurements/NAME.json for the README's table (one file each: tests run in parallel)."""
    path = SITE.parent / "measurements" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value) + "\n")
