"""A local Sphinx extension with the book's fixes to its toolchain.

- sphinx-thebe registers its inline configuration script twice under Jupyter Book 1, so every page declared
  `const THEBE_JS_URL` twice and the browser reported "Identifier 'THEBE_JS_URL' has already been declared".
  Each page now gets each script once.
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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
