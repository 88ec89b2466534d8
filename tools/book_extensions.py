"""A local Sphinx extension with the book's fixes to its toolchain.

- sphinx-thebe registers its inline configuration script twice under Jupyter Book 1, so every page declared
  `const THEBE_JS_URL` twice and the browser reported "Identifier 'THEBE_JS_URL' has already been declared".
  Each page now gets each script once.
- pydata-sphinx-theme loads the whole search index (searchindex.js, which grows with the book) on every page, for
  its search-as-you-type, which this book leaves off: only the search page needs it. Dropping it from the other
  pages keeps every page under 2 MB (tests/test_site.py weighs them all).
"""

import pathlib
import re

_SEARCH_INDEX = re.compile(r'[ \t]*<script src="(?:\.\./)*searchindex\.js"></script>\n?')


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


def _drop_search_index_outside_the_search_page(app, exception):
    """Remove the search index's script tag from every built page but search.html."""
    if exception is not None or app.builder.format != "html":
        return
    for page in pathlib.Path(app.outdir).rglob("*.html"):
        if page.name == "search.html":
            continue
        html = page.read_text(encoding="utf-8")
        lighter = _SEARCH_INDEX.sub("", html)
        if lighter != html:
            page.write_text(lighter, encoding="utf-8")


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("build-finished", _drop_search_index_outside_the_search_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
