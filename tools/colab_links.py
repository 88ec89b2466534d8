"""A local Sphinx extension: a chapter page's Colab button and .ipynb download give the chapter's Colab edition.

sphinx-book-theme builds the Colab launch link from the page's own path (chapters/NN_name.ipynb) and offers the
page's source for download. Both would hand a reader the MyST notebook, which neither Colab nor plain JupyterLab
renders. The edition (colab/NN_name.ipynb, written by tools/colab_edition.py) reads cleanly there, so:
- the Colab launch button of a chapter opens its edition (the address tools/book_config.py's colab_url gives the
  badges too);
- when the build finishes, the edition is copied over the page's `_sources/…/NN_name.ipynb`, the file the theme's
  `.ipynb` download button links to.
Pages without an edition (the landing page, For instructors) are left as they are.
"""

import pathlib
import shutil
import sys

TOOLS = pathlib.Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import book_config  # noqa: E402  (tools/book_config.py, beside this file)


def _edition(pagename):
    """The Colab edition of a page, if the page is a chapter notebook that has one."""
    source = book_config.ROOT / f"{pagename}.ipynb"
    edition = book_config.ROOT / book_config.EDITION_DIR / source.name
    return edition if source.exists() and edition.exists() else None


def _point_colab_button_at_the_edition(app, pagename, templatename, context, doctree):
    """Rewrite the theme's Colab launch link (it runs at priority 501, this after it)."""
    edition = _edition(pagename)
    if edition is None:
        return
    url = book_config.colab_url(book_config.load_config(), edition)
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = url


def _ship_the_edition_as_the_download(app, exception):
    """Put each chapter's edition where the theme's .ipynb download button points."""
    if exception is not None or app.builder.format != "html":
        return
    sources = pathlib.Path(app.outdir) / "_sources"
    for docname in app.env.found_docs:
        edition = _edition(docname)
        target = sources / f"{docname}.ipynb"
        if edition is not None and target.parent.is_dir():
            shutil.copyfile(edition, target)


def setup(app):
    app.connect("html-page-context", _point_colab_button_at_the_edition, priority=600)
    app.connect("build-finished", _ship_the_edition_as_the_download)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
