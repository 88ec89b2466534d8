"""Turn chapter notebooks into reveal.js lecture decks that load nothing from outside their own folder.

    python tools/slides.py chapters/01_sigmoid.ipynb ...   write _build/slides/<chapter>.slides.html
    python tools/slides.py --solutions notes ...           solutions in the speaker notes, not on slides

With no notebook named, every chapter listed in _toc.yml is used. Each deck follows the notebook's own slide
metadata (`slideshow.slide_type`: slide, subslide, fragment, skip, notes); cells tagged `remove-cell` (the Colab
badge and set-up cells) are dropped. The MyST the book is written in, read by tools/myst_blocks.py (markdown-it),
is turned into plain HTML on the way: admonitions and exercises become boxes, `{ref}` becomes the exercise's title,
links to other chapters point at their decks. A solution (the cells from `solution-start` to `solution-end`) gets
its own vertical slide under its exercise, so a lecturer shows it with the down arrow once the room has tried.

reveal.js, MathJax 3 and the book's widget loader (assets/site/widgets.js) are copied beside the decks and
referenced relatively, so the folder works opened from disk, served, or copied to a USB stick. They come from
assets/node_modules: `cd assets && npm ci` (`make slides` does it).
"""

import argparse
import copy
import pathlib
import re
import shutil
import sys
import time

import nbformat
from nbconvert.exporters import SlidesExporter
from nbconvert.filters import markdown2html
from traitlets.config import Config

import myst_blocks  # tools/myst_blocks.py, beside this file: the MyST reader
from fingerprint import files_under, fingerprint, mark_built, up_to_date  # tools/fingerprint.py
from book_config import toc_chapters  # tools/book_config.py, beside this file

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "slides"
SLIDE_ASSETS = ROOT / "assets" / "slides"
TEMPLATES = SLIDE_ASSETS / "templates"
TEMPLATE_NAME = "xentbook_reveal"
NODE_MODULES = ROOT / "assets" / "node_modules"
WIDGETS_JS = ROOT / "assets" / "site" / "widgets.js"

WIDTH, HEIGHT = 1280, 720
THEME = "white"

# What a deck loads, copied from the pinned npm packages (assets/package.json): (source, destination in OUT).
VENDORED = [
    ("reveal.js/LICENSE", "reveal.js/LICENSE"),
    ("reveal.js/dist/reveal.css", "reveal.js/dist/reveal.css"),
    ("reveal.js/dist/reveal.js", "reveal.js/dist/reveal.js"),
    (f"reveal.js/dist/theme/{THEME}.css", f"reveal.js/dist/theme/{THEME}.css"),
    ("reveal.js/dist/theme/fonts/source-sans-pro", "reveal.js/dist/theme/fonts/source-sans-pro"),
    ("reveal.js/plugin/notes/notes.js", "reveal.js/plugin/notes/notes.js"),
    ("mathjax/LICENSE", "mathjax/LICENSE"),
    ("mathjax/es5/startup.js", "mathjax/startup.js"),
    ("mathjax/es5/core.js", "mathjax/core.js"),
    ("mathjax/es5/input/tex.js", "mathjax/input/tex.js"),
    ("mathjax/es5/input/tex/extensions", "mathjax/input/tex/extensions"),  # loaded on demand (\boldsymbol, ...)
    ("mathjax/es5/output/chtml.js", "mathjax/output/chtml.js"),
    ("mathjax/es5/output/chtml/fonts/tex.js", "mathjax/output/chtml/fonts/tex.js"),
    ("mathjax/es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/es5/a11y/assistive-mml.js", "mathjax/a11y/assistive-mml.js"),  # MathML for screen readers
]

SOLUTION_MODES = ("slide", "notes", "omit")
ADMONITIONS = {
    "admonition", "note", "tip", "hint", "important", "seealso", "attention", "caution", "warning", "danger",
    "error",
}
# Not MyST but a Markdown link to another chapter, `](name.ipynb#anchor)`, in the Markdown the reader wrote back:
# the parser gives links without their place in the source, and this one pattern is all a relink needs.
NOTEBOOK_LINK = re.compile(r"\]\((?P<path>[\w.-]+)\.ipynb(?P<anchor>#[^)\s]*)?\)")


def deck_name(notebook):
    """The deck's file name: 04_log_sum_exp.ipynb -> 04_log_sum_exp.slides.html."""
    return f"{pathlib.Path(notebook).stem}.slides.html"


# --- MyST to the Markdown nbconvert renders ------------------------------------------------------------------


def directive_labels(source):
    """{label: title} of every exercise directive in a Markdown source (nested ones included)."""
    return {
        block.options["label"]: block.argument
        for block in myst_blocks.walk(source)
        if block.name == "exercise" and "label" in block.options
    }


def inline_html(markdown):
    """One line of Markdown (a title with `code` or **bold**) as inline HTML."""
    html = markdown2html(markdown).strip()
    return html[3:-4] if html.startswith("<p>") and html.endswith("</p>") else html


def box(classes, title, body):
    """An HTML box whose body nbconvert's Markdown renderer still reads as Markdown."""
    head = f'<div class="admonition {classes}">\n'
    if title:
        head += f'<p class="admonition-title">{title}</p>\n'
    return f"{head}\n{body.strip()}\n\n</div>"


def render_directive(name, argument, options, body, titles):
    """One MyST directive as Markdown (with HTML boxes)."""
    inner = myst_to_markdown("\n".join(body), titles)
    if name == "exercise":
        label = options.get("label", "")
        title = f"Exercise: {inline_html(argument)}" if argument else "Exercise"
        if label:
            title += f' <span class="xent-label">{label}</span>'
        return box("exercise", title, inner)
    if name in ADMONITIONS:
        title = inline_html(argument) if argument else ("" if name == "admonition" else name.capitalize())
        classes = " ".join([name] + options.get("class", "").split())
        return box(classes, title, inner)
    if name == "math":
        return f"$$\n{inner.strip()}\n$$"
    if name in {"code", "code-block", "code-cell", "sourcecode"}:
        return f"```{argument}\n" + "\n".join(body) + "\n```"
    return box(f"directive {name}", inline_html(argument) if argument else "", inner)  # anything else: a plain box


def render_role(name, content, titles):
    """One MyST role as Markdown: a ref shows its text or the exercise's title; math stays math."""
    if name == "math":
        return f"${content}$"
    if name in {"ref", "numref", "doc", "eq", "term", "any", "download"}:
        explicit = myst_blocks.split_title_target(content)
        if explicit:
            return explicit[0]
        if content in titles:
            return f"*{titles[content]}*"
        return f"`{content}`"
    return f"`{content}`"


def text_to_markdown(text, titles):
    """Lines of a cell outside directives: targets `(label)=` go (a page anchor, nothing to show), roles become
    text, everything else (code, math) stays as written. None when nothing is left."""
    out = []
    for piece in myst_blocks.pieces(text + "\n"):
        if piece.kind == "role":
            out.append(render_role(piece.name, piece.content, titles))
        elif piece.kind != "target":
            out.append(piece.text)
    if not out:
        return None
    text = "".join(out)
    return text[:-1] if text.endswith("\n") else text


def myst_to_markdown(source, titles=None):
    """Markdown nbconvert can render, from a cell's MyST: directives become boxes, roles become text."""
    titles = titles or {}
    out = []
    for block in myst_blocks.blocks(source):
        if block.name is not None:
            out.append(render_directive(block.name, block.argument, block.options, block.body, titles))
        else:
            text = text_to_markdown(block.text, titles)
            if text is not None:
                out.append(text)
    return "\n".join(out)


def link_decks(source, decks):
    """Point Markdown links to other chapters at their decks (when there is one)."""

    def relink(match):
        if match["path"] + ".ipynb" not in decks:
            return match.group(0)
        return f"]({match['path']}.slides.html)"

    return NOTEBOOK_LINK.sub(relink, source)


# --- The notebook, prepared for slides -----------------------------------------------------------------------


def opening_directive(cell):
    """The directive a Markdown cell consists of (solution-start, ...), else None."""
    if cell.cell_type != "markdown":
        return None
    return myst_blocks.first_directive(cell.source)


def set_slide_type(cell, slide_type):
    cell.metadata.setdefault("slideshow", {})["slide_type"] = slide_type


def slide_type(cell):
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def prepare(nb, decks=(), solutions="slide"):
    """A copy of the notebook ready for SlidesExporter: MyST turned into Markdown, solutions placed."""
    if solutions not in SOLUTION_MODES:
        raise ValueError(f"solutions must be one of {SOLUTION_MODES}, not {solutions!r}")
    nb = copy.deepcopy(nb)
    titles = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            titles.update(directive_labels(cell.source))
    cells = []
    in_solution = after_solution = False
    for cell in nb.cells:
        opening = opening_directive(cell)
        name = opening.name if opening else None
        if name == "solution-start":
            label = opening.argument
            in_solution = True
            if solutions == "omit":
                continue
            title = titles.get(label, label)
            cell.source = f"### Solution: {title}"
            set_slide_type(cell, "subslide" if solutions == "slide" else "notes")
        elif name == "solution-end":
            in_solution, after_solution = False, True
            continue
        elif in_solution:
            if solutions == "omit":
                continue
            if solutions == "notes":
                set_slide_type(cell, "notes")
        elif after_solution and slide_type(cell) in {"-", "fragment"} and solutions == "slide":
            set_slide_type(cell, "subslide")  # the lesson goes on below the solution, not on its slide
        after_solution = after_solution and name == "solution-end"
        if cell.cell_type == "markdown":
            cell.source = link_decks(myst_to_markdown(cell.source, titles), decks)
        cells.append(cell)
    nb.cells = cells
    return nb


def deck_title(nb, notebook):
    """The chapter's title: the text of its first `# ` heading."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"[`*]", "", line[2:]).strip()
    return pathlib.Path(notebook).stem


# --- Export --------------------------------------------------------------------------------------------------


def make_exporter():
    """nbconvert's SlidesExporter with the book's template: no prompts, remove-cell dropped, 1280 x 720."""
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    config.CSSHTMLHeaderPreprocessor.style = "default"  # plain colours; the stock style needs JupyterLab's CSS
    return SlidesExporter(
        config=config,
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        reveal_theme=THEME,
        reveal_transition="slide",
        reveal_number="c/t",
        reveal_width=str(WIDTH),
        reveal_height=str(HEIGHT),
        reveal_url_prefix="reveal.js",
    )


def copy_assets(out):
    """Copy reveal.js, MathJax, the widget loader and the deck CSS next to the decks."""
    if not (NODE_MODULES / "reveal.js").is_dir() or not (NODE_MODULES / "mathjax").is_dir():
        sys.exit("assets/node_modules is missing: run `cd assets && npm ci` (`make slides` does it)")
    for source, destination in VENDORED:
        source, destination = NODE_MODULES / source, out / destination
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)
    shutil.copy2(WIDGETS_JS, out / "widgets.js")
    shutil.copy2(SLIDE_ASSETS / "slides.css", out / "slides.css")


def build_deck(exporter, notebook, out, decks=(), solutions="slide"):
    """Write one notebook's deck into out; return its path."""
    nb = nbformat.read(notebook, as_version=4)
    prepared = prepare(nb, decks=decks, solutions=solutions)
    resources = {"metadata": {"name": pathlib.Path(notebook).stem}, "deck_title": deck_title(nb, notebook)}
    html, _ = exporter.from_notebook_node(prepared, resources=resources)
    path = out / deck_name(notebook)
    path.write_text(html, encoding="utf-8")
    return path


STAMP_NAME = ".inputs.sha256"  # beside the decks: the fingerprint of what they were built from (tools/fingerprint.py)


def inputs_digest(notebooks, solutions="slide", decks=None):
    """The fingerprint of what the decks are made of: the notebooks, this tool and the tools it imports, the
    templates and styles, the widget loader and the vendored packages' pins, and the options."""
    if decks is None:
        decks = {path.name for path in (ROOT / "chapters").glob("*.ipynb")} | {path.name for path in notebooks}
    tools = [ROOT / "tools" / name for name in ("slides.py", "myst_blocks.py", "book_config.py", "fingerprint.py")]
    inputs = list(notebooks) + tools + files_under(SLIDE_ASSETS) + [
        WIDGETS_JS, ROOT / "assets" / "package-lock.json", ROOT / "_config.yml", ROOT / "_toc.yml"]
    return fingerprint(inputs, [solutions, sorted(decks)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path, help="chapter notebooks (default: _toc.yml)")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help="output folder (default: _build/slides)")
    parser.add_argument(
        "--solutions",
        choices=SOLUTION_MODES,
        default="slide",
        help="slide: a vertical slide under each exercise (default); notes: speaker notes only; omit: left out",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if no input changed since the last build")
    args = parser.parse_args(argv)
    notebooks = []
    for path in args.notebooks or toc_chapters():
        if path.is_file():
            notebooks.append(path)
        elif path.with_suffix(".md").is_file():
            print(f"{path.with_suffix('.md')}: a Markdown page, no deck")  # _toc.yml lists pages too
        else:
            sys.exit(f"no such notebook: {path}")
    decks = {path.name for path in (ROOT / "chapters").glob("*.ipynb")} | {path.name for path in notebooks}
    digest = inputs_digest(notebooks, args.solutions, decks)
    stamp = args.out / STAMP_NAME
    outputs = [args.out / deck_name(notebook) for notebook in notebooks] + [args.out / "widgets.js"]
    if not args.force and up_to_date(stamp, digest, outputs):
        print(f"{args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}: {len(notebooks)} decks "
              f"up to date (no notebook, tool or template changed; --force rebuilds)")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    copy_assets(args.out)
    exporter = make_exporter()
    for notebook in notebooks:
        start = time.perf_counter()
        path = build_deck(exporter, notebook, args.out, decks=decks, solutions=args.solutions)
        seconds = time.perf_counter() - start
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  ({seconds:.1f} s)")
    mark_built(stamp, digest)


if __name__ == "__main__":
    main()
