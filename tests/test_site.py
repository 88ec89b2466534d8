"""The built site, read in a real headless Chromium: every page (nothing from outside, under 2 MB), the live overflow
explorer. What every explorable must do is in tests/test_explorables.py."""

import json
import math
import re

import pytest
from bs4 import BeautifulSoup

import notebooks as tool  # tools/notebooks.py, on the path from conftest
from conftest import SHOTS, SITE, Page, toc_pages, toc_chapters
from xentbook.explorables.overflow import BASE_LOGITS, exp_overflow_threshold, explore

CHAPTER_4 = "chapters/04_log_sum_exp.html"
WIDGET = ".xent-ox"
MAX_PAGE_BYTES = 2_000_000


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


@pytest.mark.parametrize("name", toc_pages() + ["search", "genindex"])  # every page: the book's and Sphinx's own
def test_page_loads_nothing_from_outside_the_site_has_no_errors_and_weighs_under_2_mb(page, site_url, name):
    browser_page = open_page(page, site_url, f"{name}.html")
    browser_page.evaluate("window.MathJax && MathJax.startup && MathJax.startup.promise && MathJax.startup.promise.then(() => true)")
    browser_page.wait_for_timeout(300)  # let late requests (fonts, MathJax components) start
    assert page.blocked == [], f"requests to other hosts: {page.blocked}"
    assert page.failed == [], f"failed or missing resources: {page.failed}"
    assert page.errors == [], f"page errors: {page.errors}"
    total = browser_page.evaluate(
        """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
                 .reduce((sum, entry) => sum + entry.decodedBodySize, 0)"""
    )
    record_page_weight(name, total)
    assert 0 < total < MAX_PAGE_BYTES, f"{name}: {total:,} bytes uncompressed"


def record_page_weight(name, total):
    """Record one page's weight, and the heaviest page recorded so far (tests run in parallel: one file each)."""
    record(f"page_bytes_{name.replace('/', '_')}", total)
    weights = {
        path.stem.removeprefix("page_bytes_"): json.loads(path.read_text())
        for path in (SITE.parent / "measurements").glob("page_bytes_*.json")
    }
    heaviest = max(weights, key=weights.get)
    record("heaviest_page_bytes", {"page": heaviest, "bytes": weights[heaviest]})


@pytest.mark.parametrize("notebook", toc_chapters(), ids=lambda p: p.stem)
def test_chapter_page_launches_its_own_notebook_in_colab_and_offers_the_ipynb(notebook):
    config = tool.load_config()
    html = (SITE / "chapters" / f"{notebook.stem}.html").read_text()
    assert f'href="{tool.colab_url(config, notebook)}"' in html
    assert f'href="../_sources/chapters/{notebook.name}"' in html
    edition = notebook.parent.parent / tool.EDITION_DIR / notebook.name  # the Colab edition (tools/colab_edition.py)
    assert (SITE / "_sources" / "chapters" / notebook.name).read_bytes() == edition.read_bytes()


def test_pages_link_to_previous_and_next_in_reading_order():
    """The theme writes the links into each page's HTML (no script moves them), so the built files are read."""
    names = toc_pages()
    for before, name, after in zip(names, names[1:], names[2:]):
        soup = BeautifulSoup((SITE / f"{name}.html").read_text(), "html.parser")
        previous = soup.select_one("a.left-prev")["href"]
        following = soup.select_one("a.right-next")["href"]
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
    assert "nan" in explorer.locator("tr[data-row=naive]").inner_text()
    naive_log_row = explorer.locator("tr[data-row=naive-log]").inner_text()
    assert "nan" in naive_log_row and "inf" in naive_log_row
    assert "inf" not in explorer.locator("tr[data-row=stable-log]").inner_text()  # log-probabilities stay finite
    assert explorer.locator(".xent-ox-step-failed").inner_text() == "exp(z): first failure"
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


def record(name, value):
    """Keep a measurement in _build/measurements/NAME.json for the README's table (one file each: tests run in parallel)."""
    path = SITE.parent / "measurements" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value) + "\n")


def test_code_blocks_carry_no_colourless_name_or_punctuation_spans_and_the_theme_colours_them_as_the_block():
    """tools/book_extensions.py drops Pygments' n and p spans: invisible only while pygments.css gives them the
    code block's own colour in both modes, which this checks too."""
    css = (SITE / "_static" / "pygments.css").read_text()
    for mode in ("light", "dark"):
        block = re.search(rf'html\[data-theme="{mode}"\] \.highlight {{[^}}]*color: (#[0-9A-Fa-f]+)', css).group(1)
        for token in ("n", "p"):
            colour = re.search(rf'html\[data-theme="{mode}"\] \.highlight \.{token} {{ color: (#[0-9A-Fa-f]+)', css)
            assert colour and colour.group(1).lower() == block.lower(), (mode, token)
    page = (SITE / "chapters" / "10_large_vocab.html").read_text()
    assert '<div class="highlight' in page and '<span class="n">' not in page and '<span class="p">' not in page
    assert "chunked_cross_entropy" in page  # the code is still there, only its plain spans are gone
