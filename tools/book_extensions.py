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
"""

SCROLL_STOPS_JS = r"""
(function () {
  "use strict";
  var KINDS = [
    ["div.math mjx-container, mjx-container[display=true]", "Equation"],
    [".pst-scrollable-table-container, .table-wrapper", "Table"],
    [".cell_input pre, .cell_input .highlight, div.highlight pre, div.highlight", "Code"],
    [".cell_output .output, .cell_output pre, .output pre", "Output"]
  ];
  var MARK = "data-xent-scroll-stop";

  function scrolls(el) {
    var style = getComputedStyle(el);
    var sideways = /(auto|scroll)/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
    var down = /(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
    return sideways || down;
  }

  function update() {
    var main = document.getElementById("main-content") || document.body;
    KINDS.forEach(function (kind) {
      main.querySelectorAll(kind[0]).forEach(function (el, index) {
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
          el.tabIndex = -1;
        }
      });
    });
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
    new MutationObserver(later).observe(document.documentElement, {attributes: true, attributeFilter: ["data-widgets-ready"]});
    window.addEventListener("resize", later);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
"""


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


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.add_js_file(None, body=SCROLL_STOPS_JS)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
