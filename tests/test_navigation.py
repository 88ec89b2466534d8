"""Finding one's way on a phone, a tablet and a projector: the menu and Contents buttons, in a real Chromium.

pydata-sphinx-theme 0.17 wires its sidebar handler to the first `.primary-toggle` and `.secondary-toggle` of the
page; with its header band rendered, those were hidden buttons and the visible ones opened nothing below 1200 px
(pydata/pydata-sphinx-theme#2451). tools/book_extensions.py renders no band; these tests tap what a reader taps.
"""

import pytest
from bs4 import BeautifulSoup

from conftest import SITE, toc_pages

CHAPTER = "chapters/02_softmax"
TARGET = "chapters/04_log_sum_exp"  # a chapter reached from the menu
MENU = ".bd-header-article .primary-toggle"
CONTENTS = ".bd-header-article .secondary-toggle"
NARROW = [390, 900]  # a phone and a tablet: both sidebars are drawers behind the header's buttons


def visit(browser, site_url, name, width, color_scheme="light"):
    """A fresh context (empty localStorage: a first visit) showing one page at this width; (context, page, console)."""
    context = browser.new_context(viewport={"width": width, "height": 844}, color_scheme=color_scheme)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.goto(f"{site_url}/{name}.html", wait_until="load")
    page.wait_for_function("document.documentElement.dataset.mode && window.getComputedStyle(document.body)")
    return context, page, console


@pytest.mark.parametrize("name", toc_pages())
def test_each_page_has_one_menu_button_and_at_most_one_contents_button(name):
    soup = BeautifulSoup((SITE / f"{name}.html").read_text(), "html.parser")
    assert len(soup.select(".primary-toggle")) == 1, f"{name}: the theme would wire the first of several menu buttons"
    assert len(soup.select(".secondary-toggle")) <= 1, name
    assert soup.select("#pst-header .primary-toggle, #pst-header .search-button__button") == [], name


@pytest.mark.parametrize("width", NARROW)
def test_contents_shows_the_pages_sections_and_the_menu_the_chapters_one_of_which_it_opens(browser, site_url, width):
    context, page, _ = visit(browser, site_url, CHAPTER, width)
    try:
        contents = page.locator("#pst-secondary-sidebar-modal")
        assert page.locator(CONTENTS).is_visible() and not contents.is_visible()
        page.locator(CONTENTS).click()
        contents.wait_for(state="visible", timeout=5000)
        sections = page.locator("article section > h2").evaluate_all("hs => hs.map(h => h.parentElement.id)")
        assert len(sections) >= 3
        for section in sections:
            assert contents.locator(f'a[href="#{section}"]').is_visible(), section
        contents.locator(f'a[href="#{sections[-1]}"]').click()
        page.wait_for_function(f"location.hash === '#{sections[-1]}'")
        contents.wait_for(state="hidden", timeout=5000)  # the drawer closes, the section shows (book_extensions.py)
        assert page.locator(f"#{sections[-1]} > h2").is_visible()

        menu = page.locator("#pst-primary-sidebar-modal")
        assert page.locator(MENU).is_visible() and not menu.is_visible()
        page.locator(MENU).click()
        menu.wait_for(state="visible", timeout=5000)
        assert menu.locator("a.reference.internal").count() >= len(toc_pages()) - 1
        link = menu.locator(f'a[href$="{TARGET.split("/")[-1]}.html"]')
        assert link.is_visible(), "the chapter list is not shown"
        link.click()
        page.wait_for_url(f"**/{TARGET}.html")
        assert "log-sum-exp" in page.locator("article h1").inner_text()
    finally:
        context.close()


def test_at_1280_px_the_sidebar_shows_the_chapters_and_its_button_folds_it(browser, site_url):
    context, page, _ = visit(browser, site_url, CHAPTER, 1280)
    try:
        sidebar = page.locator("#pst-primary-sidebar")
        link = sidebar.locator(f'a[href$="{TARGET.split("/")[-1]}.html"]')
        assert link.is_visible() and page.locator("#pst-page-toc-nav").is_visible()
        box = sidebar.bounding_box()
        assert box["x"] == 0 and box["y"] == 0, f"a band above the sidebar: {box}"
        page.locator(MENU).click()
        page.wait_for_function("document.getElementById('pst-primary-sidebar').getBoundingClientRect().right <= 0")
        page.locator(MENU).click()
        page.wait_for_function("document.getElementById('pst-primary-sidebar').getBoundingClientRect().left >= 0")
        link.click()
        page.wait_for_url(f"**/{TARGET}.html")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_first_visit_logs_no_invalid_theme_mode_and_takes_the_readers_colours(browser, site_url, scheme):
    context, page, console = visit(browser, site_url, CHAPTER, 390, color_scheme=scheme)
    try:
        page.wait_for_function("[...document.querySelectorAll('script[src]')].length && document.readyState === 'complete'")
        page.wait_for_timeout(300)
        root = page.evaluate("({mode: document.documentElement.dataset.mode, theme: document.documentElement.dataset.theme,"
                             " stored: localStorage.getItem('mode')})")
        assert root == {"mode": "auto", "theme": scheme, "stored": "auto"}, root
        assert [line for line in console if "invalid theme mode" in line.lower() or line.startswith("pageerror")] == []
        assert any("Changed to auto mode" in line for line in console), console  # the theme's script did run
    finally:
        context.close()
