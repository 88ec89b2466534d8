"""Reading on a 390 px phone, as a reader reads: where lines break, and what shows that an equation scrolls.

tests/test_accessibility.py lays every page out at 390 px (after MathJax and the explorables) and runs these checks
on it, with one screenshot of the page's first screen in _build/screenshots/phone-*.png (the fixes are in
tools/book_extensions.py):
- inline code breaks only after `_`, `.`, `(`, at a hyphen or a space (never `log_prob|s`), and the Previous / Next
  titles only between words;
- punctuation touching an inline formula stays on its line (no line starts with ", softmax", none ends in "(");
- every display equation wider than the column scrolls, does not hide its scrollbar, has a shadow at its right edge and a tab
  stop (tests/test_reading.py checks in pixels that the shadows show, and that a keyboard scrolls it).
"""

from conftest import SHOTS

CODE_BREAKS_AFTER = "_.(-"  # and white space, before or after the break

# The characters of an element's text, with the line each is on: a line break lies between two characters whose
# boxes start on different lines.
LINE_BREAKS_JS = """
([selector, allowedAfter]) => {
  const bad = [];
  let checked = 0;
  const space = c => /\\s/.test(c);
  for (const el of document.querySelectorAll(selector)) {
    const lines = el.getClientRects();
    if (!lines.length) continue;
    checked += 1;
    if (lines.length < 2 && el.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(el).lineHeight || 0)) {
      continue;  // on one line: nothing to look at
    }
    const chars = [];  // [character, top, bottom, a (collapsed) space before it]
    let spaceBefore = false;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        if (space(node.data[i])) { spaceBefore = true; continue; }  // a space at a line's end has no box
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const box = [...range.getClientRects()].find(r => r.width > 0);
        if (box) chars.push([node.data[i], box.top, box.bottom, spaceBefore]);
        spaceBefore = false;
      }
    }
    for (let i = 1; i < chars.length; i++) {
      const [before, , bottom] = chars[i - 1];
      const [, top, , afterSpace] = chars[i];
      if (top < bottom - 1) continue;  // the same line
      if (afterSpace || allowedAfter.includes(before)) continue;
      const text = chars.map(c => (c[3] ? " " : "") + c[0]);
      bad.push(text.slice(0, i).join("") + "|" + text.slice(i).join(""));
    }
  }
  return {checked, bad: bad.slice(0, 10), count: bad.length};
}
"""

# Each inline formula, and the punctuation touching it in the text: is that character on the formula's line?
MATH_PUNCTUATION_JS = """
([closing, opening]) => {
  const bad = [];
  let checked = 0;
  const article = document.querySelector("article.bd-article") || document.body;
  const textNext = (el, forward) => {
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    walker.currentNode = el;
    for (let node = forward ? walker.nextNode() : walker.previousNode(); node;
         node = forward ? walker.nextNode() : walker.previousNode()) {
      if (!el.contains(node)) return node;
    }
    return null;
  };
  const onLine = (node, index, box) => {
    const range = document.createRange();
    range.setStart(node, index);
    range.setEnd(node, index + 1);
    const rect = [...range.getClientRects()].find(r => r.width > 0);
    if (!rect) return true;
    const middle = (rect.top + rect.bottom) / 2;
    return [...box].some(line => middle >= line.top - 1 && middle <= line.bottom + 1);
  };
  for (const math of article.querySelectorAll("span.math")) {
    if (!math.querySelector("mjx-container") || math.closest("div.math")) continue;
    const box = math.getClientRects();
    if (!box.length) continue;
    const after = textNext(math, true);
    if (after && after.length && closing.includes(after.data[0])) {
      checked += 1;
      if (!onLine(after, 0, box)) bad.push(`after ${math.textContent.slice(0, 30)}: "${after.data.slice(0, 20)}"`);
    }
    const before = textNext(math, false);
    if (before && before.length && opening.includes(before.data[before.length - 1]) &&
        (before.length === 1 || /\\s/.test(before.data[before.length - 2]))) {
      checked += 1;
      if (!onLine(before, before.length - 1, box)) {
        bad.push(`before ${math.textContent.slice(0, 30)}: "${before.data.slice(-20)}"`);
      }
    }
  }
  return {checked, bad: bad.slice(0, 10), count: bad.length};
}
"""

# Every display equation wider than the column: does it scroll, keep its scrollbar, have shadows, take a tab stop?
# (Headless Chromium hides every scrollbar, so only the style can say that it is not hidden.)
EQUATIONS_JS = """
() => {
  const wide = [], bad = [];
  for (const el of document.querySelectorAll("article div.math mjx-container[display=true]")) {
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    wide.push(el);
    const style = getComputedStyle(el);
    const problems = [];
    if (!/(auto|scroll)/.test(style.overflowX)) problems.push("does not scroll");
    if (style.scrollbarWidth === "none") problems.push("its scrollbar is hidden");
    if (!el.classList.contains("xent-more-right") || style.boxShadow === "none") problems.push("no shadow at its right");
    if (el.tabIndex !== 0) problems.push("no tab stop");
    if (problems.length) bad.push(el.textContent.slice(0, 40) + ": " + problems.join(", "));
  }
  return {wide: wide.length, bad};
}
"""


CLOSING = ",.;:!?)]}\u2019\u201d\u2026"  # must not start a line after a formula
OPENING = "([{\u2018\u201c"  # must not end a line before one


def reading_problems(page, name):
    """What breaks badly on this laid-out page: {check: [examples]}, empty lists when it reads well."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"phone-{name.replace('/', '-')}.png"))
    code = page.evaluate(LINE_BREAKS_JS, ["article code.literal", CODE_BREAKS_AFTER])
    titles = page.evaluate(LINE_BREAKS_JS, [".prev-next-area .prev-next-title", "-"])
    math = page.evaluate(MATH_PUNCTUATION_JS, [CLOSING, OPENING])
    equations = page.evaluate(EQUATIONS_JS)
    return {
        "inline code broken inside a word": code["bad"],
        "a Previous / Next title broken inside a word": titles["bad"],
        "punctuation parted from its formula": math["bad"],
        "equations that scroll without showing it": equations["bad"],
    }
