"""What the book's configuration says: its pages (_toc.yml) and the addresses derived from _config.yml.

The one module that owns them, so that no tool imports another for them: tools/notebooks.py (the chapters' Colab
cells, executing them) imports tools/colab_edition.py (the Colab edition), and both, like tools/colab_links.py (the
site's Colab button) and tools/slides.py, read the configuration here (notebooks.py re-exports it for older callers). `repository.url` (with `repository.branch`) gives every Colab badge, the
Colab set-up cell and the site's launch buttons; `html.baseurl` gives the site's own address (see site_url).
"""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"


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


def site_url(config):
    """The book's site, ending in '/': html.baseurl, else the GitHub Pages address of repository.url."""
    base = (config.get("html") or {}).get("baseurl")
    if not base:
        owner, name = github_slug(config).split("/")
        base = f"https://{owner.lower()}.github.io/{name}/"
    return base.rstrip("/") + "/"
