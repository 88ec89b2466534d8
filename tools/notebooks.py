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
import yaml
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"
TIMEOUT_SECONDS = 600


def load_config():
    """The book's _config.yml as a dict."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_pages():
    """Every page named in _toc.yml, without its extension, root first."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            pages.append(chapter["file"])
            pages.extend(section["file"] for section in chapter.get("sections", []))
    return pages


def toc_chapters():
    """Every notebook listed in _toc.yml, in reading order."""
    return [ROOT / f"{name}.ipynb" for name in toc_pages() if (ROOT / f"{name}.ipynb").exists()]


def github_slug(config):
    """'owner/name' of the book's repository, from repository.url."""
    url = config["repository"]["url"].rstrip("/")
    return "/".join(url.split("/")[-2:])


EDITION_DIR = "colab"  # the Colab edition of the chapters (tools/colab_edition.py writes it)


def edition_relative(config, notebook):
    """The path of a chapter's Colab edition inside the repository: colab/NN_name.ipynb."""
    edition = ROOT / EDITION_DIR / pathlib.Path(notebook).name
    return edition.relative_to(ROOT / config["repository"].get("path_to_book", "")).as_posix()


def colab_url(config, notebook):
    """The Colab address that opens this chapter's Colab edition from the book's repository."""
    relative = edition_relative(config, notebook)
    branch = config["repository"].get("branch", "main")
    return f"{config['launch_buttons']['colab_url']}/github/{github_slug(config)}/blob/{branch}/{relative}"


def install_spec(config):
    """What Colab's pip installs to get the book's helper package."""
    branch = config["repository"].get("branch", "main")
    return f"xentbook @ git+{config['repository']['url'].rstrip('/')}@{branch}"


def badge_source(config, notebook):
    """Markdown of the 'Open in Colab' badge for one notebook."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(config, notebook)})"
    )


def setup_source(config):
    """The set-up cell: in Colab only, install what Colab lacks (never torch, numpy or matplotlib)."""
    return (
        "# Set-up for Colab only: install the book's helper package and turn on its widgets.\n"
        "# Elsewhere requirements.txt has already installed everything, so this cell does nothing.\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "{install_spec(config)}"], check=True)\n'
        "    from google.colab import output\n"
        "\n"
        "    output.enable_custom_widget_manager()"
    )


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
    import colab_edition  # beside this file; it imports this module, so not at the top

    for path in colab_edition.write(config=config):  # every chapter: a label in one is a link in another
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
