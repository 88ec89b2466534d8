"""A local Sphinx extension with the book's fixes to its toolchain.

- sphinx-thebe registers its inline configuration script twice under Jupyter Book 1, so every page declared
  `const THEBE_JS_URL` twice and the browser reported "Identifier 'THEBE_JS_URL' has already been declared".
  Each page now gets each script once.
- Whatever scrolls sideways can be reached and scrolled by keyboard (axe-core's scrollable-region-focusable,
  WCAG 2.1.1). The theme gives a tab stop to scrolling code, outputs and tables, but not to display math, which
  scrolls on a phone; nor does it say what a reader has tabbed into. Every region that scrolls now gets a tab stop,
  the role "region" and a name ("Code 3", "Output 2", "Equation 1", "Table 1"), and loses them when it no longer scrolls.
  This runs in the page (when it loads, after MathJax has typeset it, after the widgets have rendered, and on each
  resize), since only the browser knows what overflows at the reader's width.
- On a phone (390 px), nothing runs past the page or is cut off (book-a11y.css): an inline formula wider than the
  column, which the theme clipped, scrolls; an explorable wider than the column scrolls inside its own box rather
  than the whole page (each with a tab stop, as above); the title of the next chapter at the foot of a page wraps
  instead of being cut.
- Inline code wraps only where a reader expects a name to break: after `_`, `.` and `(` (a <wbr> is put there in
  each page's body), and at its spaces and hyphens, never inside a word (`log_prob|s` was possible with
  `overflow-wrap: anywhere`). Only a piece with no such place that is wider than the whole column would still be
  broken (`overflow-wrap: break-word`), rather than run past the page. The Previous / Next links stand one above
  the other on a phone, so their titles (117 px wide side by side, which cut `F.cross_ent|ropy`) wrap between words.
- A display equation wider than the column scrolls inside its box (the theme's), and now shows that it does: a
  shadow inside the edge beyond which more of it is hidden (the page script sets `xent-more-left` and
  `xent-more-right` as it scrolls; an inset shadow reads on the tinted boxes too), and a thin scrollbar where the
  system shows scrollbars at all; its tab stop (above) lets a keyboard scroll it.
- Punctuation stays with the inline formula it touches: a comma, full stop, closing bracket... right after a
  formula, and an opening bracket right before it, are wrapped with it in a span that does not break
  (`xent-nowrap`), so no line starts with ", softmax" and none ends in "(" (a docutils pass over each page). A
  formula so long that it scrolls (`xent-scrolls`) stops 2em short of the column's width, which leaves its
  punctuation room on its line.
- Links inside the tinted boxes (exercises, notes) are a darker blue in light mode: the theme's blue had 4.3:1
  contrast on their background, under WCAG's 4.5:1 (axe-core's color-contrast).
- pydata-sphinx-theme loads the whole search index (searchindex.js, which grows with the book) on every page, for
  its search-as-you-type, which this book leaves off: only the search page needs it. Dropping it from the other
  pages keeps every page under 2 MB (tests/test_site.py weighs them all).
- sphinx-design (which Jupyter Book 1 always loads) adds 57 kB of CSS and JavaScript to every page, and the
  search page's own scripts (searchtools.js, language_data.js) come on every page too. A page that uses no
  sphinx-design component (no "sd-" class in its body) and is not the search page goes without them, which keeps
  every page under 2 MB.
- The menu and Contents buttons open nothing below 1200 px with pydata-sphinx-theme 0.17 and sphinx-book-theme 1.3
  (pydata/pydata-sphinx-theme#2451, executablebooks/sphinx-book-theme#988): pydata-sphinx-theme 0.17 adds a header
  band (its `navbar_persistent` search button, by default) with a second `.primary-toggle` and `.secondary-toggle`,
  and wires its handler to the first of each in the page, the band's, which this theme hides; the buttons a reader
  sees get none. The book sets `navbar_persistent` to nothing, as sphinx-book-theme's own theme.conf means to, so the
  band (and its second search button) is not rendered and the article header's buttons are the only ones.
  A tap on a section in the Contents drawer now also closes the drawer (the theme left it open over the section).
  tests/test_navigation.py taps them at 390, 900 and 1280 px and counts one of each per page.
- The theme logged "Got invalid theme mode: . Resetting to auto." on a reader's first visit: with no `default_mode`
  (html_context) and nothing in localStorage yet, its head script sets the mode and theme to "", which its script
  then rejects. Setting `default_mode: auto` is no cure: it writes data-theme="auto" into the HTML, which the theme's
  CSS does not know, so with JavaScript off the page would lose its colours. Instead a head script, run right after
  the theme's, makes an empty or unknown mode "auto" and resolves the theme to light or dark (the reader's system
  setting) before the first paint. tests/test_navigation.py checks a first visit's console.
"""

import pathlib
import re

from docutils import nodes

_SEARCH_INDEX = re.compile(r'[ \t]*<script src="(?:\.\./)*searchindex\.js"></script>\n?')
# Pygments wraps every name and every punctuation mark of a code cell in a span of its own, class "n" or "p", whose
# colour the theme's pygments.css sets to the code block's own colour in light and dark mode alike: the spans change
# nothing a reader sees, and on a code-heavy chapter they are a tenth of the page's weight.
_PLAIN_TOKEN = re.compile(r'<span class="[np]">([^<]*)</span>')
_CODE_BLOCK = re.compile(r'<div class="highlight[^"]*"><pre>.*?</pre></div>', re.S)
CSS_NAME = "book-a11y.css"
CSS = """/* Written by tools/book_extensions.py: nothing runs past the page, or is cut off, on a phone. */
/* Inline code breaks at its spaces, hyphens and the <wbr> after _ . ( only; a piece wider than the column still breaks. */
.bd-article code.literal { overflow-wrap: break-word; word-break: normal; }
.bd-article code.literal span.pre { white-space: normal; }
span.math.xent-scrolls { overflow-x: auto; }  /* the theme clips a formula wider than the column; it scrolls */
.xent-nowrap { white-space: nowrap; }  /* an inline formula and the punctuation touching it */
.xent-nowrap > span.math { max-width: calc(100% - 2em); }  /* a formula that scrolls leaves its punctuation room */
.cell_output .xent-widget { max-width: 100%; overflow-x: auto; }
.prev-next-area a .prev-next-info { min-width: 0; }
.prev-next-area a p.prev-next-title { overflow-wrap: break-word; }
@media (max-width: 575.98px) {  /* a phone: Previous and Next one above the other, each as wide as the page */
  .prev-next-area a { float: none; max-width: 100%; }
  .prev-next-area a.right-next { justify-content: flex-end; }
}
/* A display equation that scrolls says so: a scrollbar that stays visible where the system allows, and a shadow
   inside the edge beyond which more of it is hidden (classes set by the page script as it scrolls). */
div.math mjx-container[display="true"], span.math.xent-scrolls {
  scrollbar-width: thin;
  scrollbar-color: var(--pst-color-text-muted, #777) transparent;
  --xent-edge: rgba(0, 0, 0, 0.45);
}
html[data-theme="dark"] div.math mjx-container[display="true"], html[data-theme="dark"] span.math.xent-scrolls {
  --xent-edge: rgba(255, 255, 255, 0.5);
}
.xent-more-right { box-shadow: inset -14px 0 12px -12px var(--xent-edge); }
.xent-more-left { box-shadow: inset 14px 0 12px -12px var(--xent-edge); }
.xent-more-left.xent-more-right {
  box-shadow: inset 14px 0 12px -12px var(--xent-edge), inset -14px 0 12px -12px var(--xent-edge);
}
div.math mjx-container[display="true"]::-webkit-scrollbar, span.math.xent-scrolls::-webkit-scrollbar { height: 6px; }
div.math mjx-container[display="true"]::-webkit-scrollbar-thumb, span.math.xent-scrolls::-webkit-scrollbar-thumb {
  background: var(--pst-color-text-muted, #777); border-radius: 3px;
}
div.math mjx-container[display="true"]:focus-visible, span.math.xent-scrolls:focus-visible {
  outline: 2px solid var(--pst-color-accent, #1f6fae); outline-offset: 2px;
}
/* The light theme's link blue has 4.3:1 contrast on the tinted boxes (exercises, notes): 4.5:1 is the minimum. */
html[data-theme="light"] .admonition a:not(:hover) { color: #125fcc; }
"""

# Runs in <head>, after the theme's own mode script and before the first paint: "auto" (or nothing, or a value the
# theme would reject) becomes the theme the reader's system asks for, so the page never paints without one.
THEME_MODE_JS = r"""
(function () {
  var root = document.documentElement;
  var mode = root.dataset.mode;
  if (mode !== "light" && mode !== "dark" && mode !== "auto") root.dataset.mode = mode = "auto";
  if (root.dataset.theme !== "light" && root.dataset.theme !== "dark") {
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = mode === "auto" ? (dark ? "dark" : "light") : mode;
  }
})();
"""

# A tap on a section in the Contents drawer (or on a link to this page in the menu drawer) scrolls the page under
# the drawer, which the theme leaves open over it: close the drawer, so the reader sees the section.
DRAWER_JS = r"""
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("dialog a[href]");
  if (!link) return;
  var dialog = link.closest("#pst-secondary-sidebar-modal, #pst-primary-sidebar-modal");
  var here = link.href.split("#")[0] === location.href.split("#")[0];
  if (dialog && dialog.open && here) dialog.close();
});
"""

SCROLL_STOPS_JS = r"""
(function () {
  "use strict";
  // [elements, name for a screen reader, clipped by the theme: let it scroll when its content does not fit]
  var KINDS = [
    ["div.math mjx-container, mjx-container[display=true]", "Equation", false],
    ["span.math", "Formula", true],
    [".pst-scrollable-table-container, .table-wrapper", "Table", false],
    [".cell_input pre, .cell_input .highlight, div.highlight pre, div.highlight", "Code", false],
    [".cell_output .output, .cell_output pre, .output pre", "Output", false],
    [".cell_output .xent-widget", "Explorable", false]
  ];
  var MARK = "data-xent-scroll-stop";
  var WIDE = "xent-scrolls";
  var EDGES = "div.math mjx-container[display=true], span.math.xent-scrolls";  // shadows where more is hidden

  function edges(el) {
    var more = el.scrollWidth - el.clientWidth;
    el.classList.toggle("xent-more-left", more > 1 && el.scrollLeft > 1);
    el.classList.toggle("xent-more-right", more > 1 && el.scrollLeft < more - 1);
  }

  function overflows(el) {
    return el.scrollWidth > el.clientWidth + 1;
  }

  function tooWide(el) {  // its content's box is wider than it (glyphs that overhang by a pixel do not count)
    var inner = el.firstElementChild;
    return !!inner && inner.getBoundingClientRect().width > el.getBoundingClientRect().width + 1;
  }

  function scrolls(el) {
    var style = getComputedStyle(el);
    var sideways = /(auto|scroll)/.test(style.overflowX) && overflows(el);
    var down = /(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
    return sideways || down;
  }

  function update() {
    var main = document.getElementById("main-content") || document.body;
    KINDS.forEach(function (kind) {
      main.querySelectorAll(kind[0]).forEach(function (el, index) {
        if (kind[2]) el.classList.toggle(WIDE, tooWide(el));
        if (scrolls(el)) {
          el.tabIndex = 0;
          if (!el.hasAttribute("role")) {
            el.setAttribute("role", "region");
            el.setAttribute("aria-label", kind[1] + " " + (index + 1));  // landmarks' names must differ
            el.setAttribute(MARK, "");
          }
        } else if (el.hasAttribute(MARK)) {
          el.removeAttribute("role");
          el.removeAttribute("aria-label");
          el.removeAttribute(MARK);
          el.removeAttribute("tabindex");
        }
      });
    });
    main.querySelectorAll(EDGES).forEach(edges);
    document.documentElement.dataset.scrollStops = "ready";
  }

  var timer = null;
  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  }

  function start() {
    update();
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(update);
    if (document.fonts) document.fonts.ready.then(later);
    window.addEventListener("load", later);
    window.addEventListener("resize", later);
    document.addEventListener("scroll", function (event) {
      var el = event.target;
      if (el && el.matches && el.matches(EDGES)) edges(el);
    }, {capture: true, passive: true});
    // Explorables render after load and change their readouts as the reader moves them.
    var main = document.getElementById("main-content") || document.body;
    new MutationObserver(later).observe(main, {childList: true, subtree: true, characterData: true});
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
"""


_INLINE_CODE = re.compile(r'(<code class="docutils literal[^"]*">)(.*?)(</code>)', re.S)
_TEXT_BETWEEN_TAGS = re.compile(r"(^|>)([^<]+)")
_BREAK_AFTER = re.compile(r"([_.(])(?=[^\s<])")  # not at the end of the code, nor before a space
CLOSING = ",.;:!?)]}\u2019\u201d'\"\u2026"  # punctuation that must not start a line after a formula
OPENING = "([{\u2018\u201c'\""  # and that must not end a line before one


def _wbr_in_inline_code(html):
    """Allow a line break after each _ . ( inside inline code, and nowhere else inside a word."""

    def code(match):
        inner = _TEXT_BETWEEN_TAGS.sub(lambda m: m.group(1) + _BREAK_AFTER.sub(r"\1<wbr>", m.group(2)), match.group(2))
        return match.group(1) + inner + match.group(3)

    return _INLINE_CODE.sub(code, html)


def _break_inline_code_at_name_boundaries(app, pagename, templatename, context, doctree):
    if context.get("body"):
        context["body"] = _wbr_in_inline_code(context["body"])


def _glue_punctuation_to_inline_math(app, doctree, docname):
    """Wrap each inline formula with the punctuation touching it in an unbreakable span (class xent-nowrap)."""
    for math in list(doctree.findall(nodes.math)):
        parent = math.parent
        if parent is None or isinstance(parent, nodes.inline) and "xent-nowrap" in parent["classes"]:
            continue
        index = parent.index(math)
        before = parent[index - 1] if index > 0 else None
        after = parent[index + 1] if index + 1 < len(parent) else None
        lead = trail = ""
        if isinstance(before, nodes.Text):
            text = str(before)
            lead = text[len(text.rstrip(OPENING)):]
            if lead and len(lead) < len(text) and not text[-len(lead) - 1].isspace():
                lead = ""  # "f(" ends a word: keep the word whole rather than split it from its bracket
        if isinstance(after, nodes.Text):
            text = str(after)
            trail = text[: len(text) - len(text.lstrip(CLOSING))]
        if not (lead or trail):
            continue
        wrapper = nodes.inline(classes=["xent-nowrap"])
        if lead:
            rest = str(before)[: -len(lead)]
            parent.replace(before, nodes.Text(rest)) if rest else parent.remove(before)
            wrapper += nodes.Text(lead)
        parent.replace(math, wrapper)
        wrapper += math
        if trail:
            rest = str(after)[len(trail):]
            parent.replace(after, nodes.Text(rest)) if rest else parent.remove(after)
            wrapper += nodes.Text(trail)


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    """Keep the first of any scripts that are identical (same file, attributes and inline body)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for script in scripts:
        key = (script.filename or "", tuple(sorted(script.attributes.items())))  # inline scripts: None or ""
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _write_css(app, exception):
    """Write the book's accessibility CSS into the site's static folder."""
    if exception is None and app.builder.format == "html":
        static = pathlib.Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        (static / CSS_NAME).write_text(CSS)


def _drop_search_index_outside_the_search_page(app, exception):
    """Remove the search index's script tag from every built page but search.html, and Pygments' n and p spans from
    its code blocks (they carry the block's own colour: see _PLAIN_TOKEN)."""
    if exception is not None or app.builder.format != "html":
        return
    for page in pathlib.Path(app.outdir).rglob("*.html"):
        if page.name == "search.html":
            continue
        html = page.read_text(encoding="utf-8")
        lighter = _CODE_BLOCK.sub(lambda block: _PLAIN_TOKEN.sub(r"\1", block.group(0)), html)
        lighter = _SEARCH_INDEX.sub("", lighter)
        if lighter != html:
            page.write_text(lighter, encoding="utf-8")


def _drop_unused_assets(app, pagename, templatename, context, doctree):
    """Leave out sphinx-design's files where the page uses none of its components, and search's outside search.html."""
    body = context.get("body", "")
    unused = set()
    if 'class="sd-' not in body and " sd-" not in body:
        unused |= {"sphinx-design.min.css", "design-tabs.js"}
    if pagename != "search":
        unused |= {"searchtools.js", "language_data.js"}

    def used(asset):
        name = (getattr(asset, "filename", None) or "").split("?")[0].rsplit("/", 1)[-1]
        return name not in unused

    for key in ("css_files", "script_files"):
        if context.get(key):
            context[key] = [asset for asset in context[key] if used(asset)]


def _no_header_band(app, config):
    """Render no pydata-sphinx-theme header band: its hidden toggles would take the visible buttons' handlers."""
    options = dict(config.html_theme_options or {})
    options.setdefault("navbar_persistent", [])
    config.html_theme_options = options


def setup(app):
    app.connect("config-inited", _no_header_band)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", _drop_unused_assets, priority=900)
    app.connect("html-page-context", _break_inline_code_at_name_boundaries)
    app.connect("doctree-resolved", _glue_punctuation_to_inline_math)
    app.connect("build-finished", _write_css)
    app.connect("build-finished", _drop_search_index_outside_the_search_page)
    app.add_js_file(None, body=THEME_MODE_JS, priority=100)  # first of the page's scripts
    app.add_js_file(None, body=SCROLL_STOPS_JS)
    app.add_js_file(None, body=DRAWER_JS)
    app.add_css_file(CSS_NAME)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
