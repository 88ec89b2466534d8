"""Reading on a phone: the fixes of tools/book_extensions.py for where lines break and what shows that an equation
scrolls. Every page is checked at 390 px by tests/test_accessibility.py (with tests/reading.py); here, the pieces:
the build's edits of the HTML, the shadows an equation that scrolls shows (in pixels), and scrolling it by keyboard.
"""

import io

import pytest
from PIL import Image, ImageChops
from bs4 import BeautifulSoup
from docutils import nodes

import book_extensions as ext  # tools/book_extensions.py, on the path from conftest
from conftest import SITE

PHONE = {"width": 390, "height": 844}
WIDE_EQUATIONS = "chapters/10_large_vocab"  # has display equations wider than a phone's column


def test_inline_code_may_break_only_after_underscore_dot_and_bracket():
    html = ('<p>a_b <code class="docutils literal notranslate"><span class="pre">F.cross_entropy(logits,</span> '
            '<span class="pre">x.</span></code></p>')
    assert ext._wbr_in_inline_code(html) == (
        '<p>a_b <code class="docutils literal notranslate"><span class="pre">F.<wbr>cross_<wbr>entropy(<wbr>logits,'
        '</span> <span class="pre">x.</span></code></p>')  # prose untouched; nothing after a final "."


def test_the_built_pages_break_inline_code_only_at_name_boundaries():
    soup = BeautifulSoup((SITE / "chapters/05_log_softmax_nll.html").read_text(), "html.parser")
    codes = soup.select("article code.literal")
    marked = [code for code in codes if code.find("wbr")]
    assert marked, "no <wbr> in the chapter's inline code"
    for code in marked:
        for wbr in code.find_all("wbr"):
            before = wbr.previous_sibling
            assert isinstance(before, str) and before[-1] in "_.(", code


def paragraph(*children):
    para = nodes.paragraph()
    for child in children:
        para += child
    return para


@pytest.mark.parametrize(
    "before, after, glued, left",
    [
        ("the value (", "), and", "(0 \\log 0),", ["the value ", " and"]),
        ("rows ", ", softmax(z)", "0 \\log 0,", ["rows ", " softmax(z)"]),
        ("f(", ") here", "0 \\log 0)", ["f(", " here"]),  # "f(" is a word: its bracket stays with it
        ("(", ")", "(0 \\log 0)", []),
        ("plain ", " text", None, ["plain ", " text"]),
    ],
)
def test_punctuation_touching_inline_math_is_wrapped_with_it(before, after, glued, left):
    math = nodes.math(text="0 \\log 0")
    doc = nodes.document(None, None)
    doc += paragraph(nodes.Text(before), math, nodes.Text(after))
    ext._glue_punctuation_to_inline_math(None, doc, "x")
    para = doc[0]
    wrappers = [node for node in para.children if isinstance(node, nodes.inline)]
    assert para.astext() == before + "0 \\log 0" + after  # nothing lost or moved
    if glued is None:
        assert wrappers == [] and math.parent is para
        return
    (wrapper,) = wrappers
    assert wrapper["classes"] == ["xent-nowrap"] and math.parent is wrapper and wrapper.astext() == glued
    assert [str(child) for child in para.children if isinstance(child, nodes.Text)] == left


def edge_strips(page, element):
    """PNG bytes of the 12 px at the left and right edges of an element, as drawn."""
    box = element.bounding_box()
    strip = lambda x: page.screenshot(clip={"x": x, "y": box["y"], "width": 12, "height": box["height"]})  # noqa: E731
    return strip(box["x"]), strip(box["x"] + box["width"] - 12)


def shaded(drawn, plain):
    """Whether a strip drawn with the shadows is darker than without them by more than a blur's faint tail."""
    grey = lambda png: Image.open(io.BytesIO(png)).convert("L")  # noqa: E731
    return ImageChops.difference(grey(drawn), grey(plain)).getextrema()[1] >= 16


@pytest.fixture
def phone_page(browser, site_url):
    context = browser.new_context(viewport=PHONE, color_scheme="light")
    page = context.new_page()
    page.goto(f"{site_url}/{WIDE_EQUATIONS}.html", wait_until="load")
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("MathJax.startup.promise")
    page.wait_for_function("document.documentElement.dataset.scrollStops === 'ready'")
    page.wait_for_timeout(400)  # the scroll stops settle 150 ms after a change
    yield page
    context.close()


def test_a_wide_equation_shows_a_shadow_on_the_side_with_more_to_see_and_scrolls_by_keyboard(phone_page):
    page = phone_page
    wide = page.locator("article div.math mjx-container[display=true]").evaluate_all(
        "els => els.map((el, i) => [i, el.scrollWidth > el.clientWidth + 1]).filter(x => x[1]).map(x => x[0])")
    assert wide, f"{WIDE_EQUATIONS}: no display equation wider than 390 px; pick a page that has one"
    equation = page.locator("article div.math mjx-container[display=true]").nth(wide[0])
    equation.scroll_into_view_if_needed()

    def strips_with_and_without_shadows():
        drawn = edge_strips(page, equation)
        equation.evaluate("el => el.style.setProperty('box-shadow', 'none', 'important')")
        plain = edge_strips(page, equation)
        equation.evaluate("el => el.style.removeProperty('box-shadow')")
        return [shaded(d, p) for d, p in zip(drawn, plain)]  # [shadow at the left, shadow at the right]

    assert strips_with_and_without_shadows() == [False, True]  # at the start: more to see on the right only
    equation.focus()
    assert equation.evaluate("el => document.activeElement === el && el.getAttribute('role') === 'region'")
    at_end = "el => el.scrollLeft + el.clientWidth >= el.scrollWidth - 1"
    for _ in range(100):
        page.keyboard.press("ArrowRight")
        if equation.evaluate(at_end):
            break
    assert equation.evaluate(at_end), "the arrow keys did not scroll the equation to its end"
    page.wait_for_timeout(100)
    assert strips_with_and_without_shadows() == [True, False]  # at the end: more to see on the left only


def test_the_books_css_wraps_nothing_anywhere():
    assert "anywhere" not in ext.CSS and "anywhere" not in (SITE / "_static" / ext.CSS_NAME).read_text()
