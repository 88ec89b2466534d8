"""Keep the chapter notebooks in shape: the Colab cells, executed outputs (the only place chapters are executed).

    python tools/notebooks.py sync [NOTEBOOK ...]     write the Colab badge and set-up cells from _config.yml
    python tools/notebooks.py execute [NOTEBOOK ...]  execute in place, saving outputs and widget state

With no notebook named, every chapter listed in _toc.yml is used. Both commands then regenerate the Colab edition
(colab/, see tools/colab_edition.py), which the badges and the site's launch and download buttons point to.
"""

import argparse
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

import colab_edition  # tools/colab_edition.py, beside this file: the Colab edition
# The book's configuration lives in tools/book_config.py; its names stay importable from here (tests, pdf.py).
from book_config import (  # noqa: F401
    BADGE_TAG, EDITION_DIR, ROOT, SETUP_TAG, badge_source, colab_url, edition_relative, github_slug, install_spec,
    load_config, setup_source, site_url, toc_chapters, toc_pages,
)

TIMEOUT_SECONDS = 600


def tagged_cell(nb, tag):
    """The first cell carrying a tag, or None."""
    return next((cell for cell in nb.cells if tag in cell.metadata.get("tags", [])), None)


def sync(notebook, config):
    """Write (or refresh) the badge cell and the set-up cell at the top of a notebook; True if it changed."""
    nb = nbformat.read(notebook, as_version=4)
    before = nbformat.writes(nb)
    badge = tagged_cell(nb, BADGE_TAG)
    if badge is None:
        badge = nbformat.v4.new_markdown_cell()
        nb.cells.insert(0, badge)
    badge.source = badge_source(config, notebook)
    badge.metadata["tags"] = [BADGE_TAG, "remove-cell"]
    badge.metadata["slideshow"] = {"slide_type": "skip"}
    setup = tagged_cell(nb, SETUP_TAG)
    if setup is None:
        setup = nbformat.v4.new_code_cell()
        nb.cells.insert(nb.cells.index(badge) + 1, setup)
    setup.source = setup_source(config)
    setup.metadata["tags"] = [SETUP_TAG, "remove-cell"]
    setup.metadata["slideshow"] = {"slide_type": "skip"}
    changed = nbformat.writes(nb) != before
    if changed:
        nbformat.write(nb, notebook)
    return changed


def execute(notebook, cwd=None):
    """Run a notebook top to bottom in a fresh kernel and save it with outputs and widget state."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd or notebook.parent)}},
        record_timing=False,
        store_widget_state=True,
    )
    client.execute()
    nbformat.write(nb, notebook)


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["sync", "execute"])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path)
    args = parser.parse_args(argv)
    notebooks = [path.resolve() for path in args.notebooks] or toc_chapters()
    config = load_config()
    for notebook in notebooks:
        if args.command == "sync":
            print(f"{'updated' if sync(notebook, config) else 'unchanged'}: {notebook.relative_to(ROOT)}")
        else:
            print(f"executing {notebook.relative_to(ROOT)}", flush=True)
            execute(notebook)
    for path in colab_edition.write(config=config):  # every chapter: a label in one is a link in another
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
