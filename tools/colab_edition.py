"""The Colab edition: every chapter as a notebook that reads cleanly where MyST is not rendered.

    python tools/colab_edition.py            write colab/NN_name.ipynb for every chapter in _toc.yml
    python tools/colab_edition.py --check    exit 1 (and name them) if the committed edition is out of date

The chapters are written in MyST for Jupyter Book. Neither Colab nor plain JupyterLab renders MyST: they would show
`:::{admonition}` fences, `{exercise}` directives with their solutions in plain sight, and `{ref}` roles. This
module writes a second copy of each chapter, generated and committed (colab/), which the Colab badges, the site's
launch buttons and its download button point to. It keeps the chapter's cells, outputs and saved widget state as
they are (nothing is re-executed) and rewrites only the Markdown (read by tools/myst_blocks.py):

- admonitions become a quote with a bold title (a dropdown admonition becomes a folded `<details>`);
- exercises become a quote titled "Exercise N.M" (N from the chapter's file name, M counted in the chapter);
- a solution (the cells from `{solution-start}` to `{solution-end}`) becomes one Markdown cell folded in
  `<details>`, with its prose, its code as a fenced block and the code's printed output. `<details>` is a fold
  that Colab, JupyterLab, VS Code and GitHub all render closed; it cannot hold a code cell, and the hidden-cell
  flags are no substitute (Colab's `cellView: form` hides a cell's code but not its output nor the solution's
  prose; JupyterLab's `jupyter.source_hidden` is not Colab's; GitHub honours neither), so the code is shown in the
  fold for the reader to copy and run;
- cross references (`{ref}`, `{numref}`, `{doc}`, `{eq}`, links to other chapters) become links to the page and
  anchor on the book's site, whose address is `html.baseurl` in _config.yml (or, if unset, the GitHub Pages address
  of `repository.url`); relative images point at the repository's raw files;
- labels `(name)=`, comments `% ...`, block breaks `+++`, equation labels and directive options go;
- every exercise is followed by an empty code cell (tagged `exercise-workspace`) to work in, before its solution's
  fold;
- cells tagged `remove-cell` are dropped except the Colab set-up cell, which is the reason the edition exists and
  is shown; `remove-input`/`hide-input` cells keep their code folded (`jupyter.source_hidden`, Colab's form view),
  `remove-output`/`hide-output` fold their outputs (`jupyter.outputs_hidden`).

`make sync` (tools/notebooks.py sync) and `tools/notebooks.py execute` regenerate it; tests/test_colab.py fails
when the committed edition differs from what this module writes.
"""

import argparse
import copy
import hashlib
import pathlib
import posixpath
import re
import sys

import nbformat

import myst_blocks  # tools/myst_blocks.py, beside this file: the MyST reader
from book_config import (  # tools/book_config.py: the pages and addresses _toc.yml and _config.yml give
    BADGE_TAG, ROOT, SETUP_TAG, badge_source, github_slug, load_config, site_url, toc_chapters, toc_pages,
)

EDITION = ROOT / "colab"

ADMONITIONS = {
    "admonition": "", "note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important",
    "seealso": "See also", "attention": "Attention", "caution": "Caution", "warning": "Warning",
    "danger": "Danger", "error": "Error", "margin": "", "sidebar": "", "epigraph": "", "pull-quote": "",
    "topic": "", "card": "", "tab-item": "", "dropdown": "",
}
DROPPED = {"toctree", "tableofcontents", "index", "solution-end", "exercise-end", "glossary-end"}
PASSED_THROUGH = {"div", "container", "only", "grid", "grid-item", "grid-item-card", "tab-set", "raw", "cssclass"}
CODE = {"code", "code-block", "sourcecode", "code-cell"}
EXERCISE_ENDS = {"exercise", "exercise-end"}  # the cell an exercise ends in (gated exercises end in exercise-end)
WORKSPACE_TAG = "exercise-workspace"  # the empty cell after each exercise, where the reader works
SITE_ONLY_TAGS = {"remove-cell", "remove-input", "remove-output", "hide-input", "hide-output", "hide-cell"}

# Not MyST: a difficulty "(★★)" in an exercise's title, and a Markdown link or image (`[text](url "title")`) in a
# text piece the MyST reader found outside code, math and roles, to point it at the site (links carry no place in
# the source in the parser's tokens, so rewriting them in place needs this one pattern).
STARS = re.compile(r"\s*\((?P<stars>★+)\)\s*")
LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<url>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")


# --- Addresses -----------------------------------------------------------------------------------------------


def page_url(config, docname, anchor=None):
    """The site's address of a page ('chapters/02_softmax'), with an anchor."""
    return f"{site_url(config)}{docname}.html" + (f"#{anchor}" if anchor else "")


def raw_url(config, path):
    """The repository's raw copy of a file (for images a notebook refers to by a relative path)."""
    branch = config["repository"].get("branch", "main")
    return f"https://raw.githubusercontent.com/{github_slug(config)}/{branch}/{path}"


def edition_path(notebook):
    """Where the edition of a chapter lives: colab/NN_name.ipynb."""
    return EDITION / pathlib.Path(notebook).name


def make_id(label):
    """The HTML id Sphinx gives a label (docutils' make_id)."""
    from docutils.nodes import make_id as docutils_make_id

    return docutils_make_id(label)


def chapter_number(docname, position):
    """A chapter's number: the digits its file name starts with, else its position in the table of contents."""
    match = re.match(r"(\d+)", posixpath.basename(docname))
    return str(int(match.group(1))) if match else str(position)


def plain_text(markdown):
    """A title's text without Markdown emphasis or code marks (for a link text or a label's title)."""
    return re.sub(r"[*_`]", "", markdown).strip()


# --- What a cross reference points at -------------------------------------------------------------------------


class Target:
    """Where a label leads on the site, and the words a reference to it shows."""

    def __init__(self, docname, anchor, title, number=None):
        self.docname, self.anchor, self.title, self.number = docname, anchor, title, number


def page_sources(docname):
    """The Markdown of a page of the book, one string per cell (a .md page is one cell)."""
    notebook = ROOT / f"{docname}.ipynb"
    if notebook.exists():
        nb = nbformat.read(notebook, as_version=4)
        return [cell.source for cell in nb.cells if cell.cell_type == "markdown"], nb
    page = ROOT / f"{docname}.md"
    return ([page.read_text()] if page.exists() else []), None


class Book:
    """What the edition needs to know about the whole book: its pages, titles, labels and glued values."""

    def __init__(self, config, pages=None, read=page_sources):
        self.config = config
        self.pages = toc_pages() if pages is None else pages
        self.titles = {}
        self.targets = {}
        self.glue = {}
        chapter = 0
        for docname in self.pages:
            sources, nb = read(docname)
            if nb is not None:
                chapter += 1
            number = chapter_number(docname, chapter)
            exercises = equations = figures = 0
            pending = []  # labels `(name)=` waiting for the heading that follows them
            for source in sources:
                for kind, value in myst_blocks.outline(source):
                    if kind == "target":
                        pending.append(value)
                    elif kind == "heading":
                        title = plain_text(value)
                        self.titles.setdefault(docname, title)
                        for label in pending:
                            self.targets[label] = Target(docname, make_id(label), title)
                        pending = []
                    elif kind != "comment" and pending:
                        for label in pending:
                            self.targets[label] = Target(docname, make_id(label), label)
                        pending = []
                    if kind == "math_label":
                        equations += 1
                        self.targets[value] = Target(docname, f"equation-{make_id(value)}", f"({equations})",
                                                     f"({equations})")
                for block in myst_blocks.walk(source):
                    name, argument, options = block.name, block.argument, block.options
                    label = options.get("label") or options.get("name")
                    if name in {"exercise", "exercise-start"}:
                        exercises += 1
                        if label:
                            title = f"Exercise {number}.{exercises}"
                            self.targets[label] = Target(docname, make_id(label), title, title)
                    elif name == "math" and label:
                        equations += 1
                        self.targets[label] = Target(docname, f"equation-{make_id(label)}", f"({equations})",
                                                     f"({equations})")
                    elif name in {"figure", "table"} and label:
                        figures += 1
                        self.targets[label] = Target(docname, make_id(label), plain_text(argument),
                                                     f"Figure {figures}")
                    elif label:
                        self.targets[label] = Target(docname, make_id(label), plain_text(argument) or label)
            if nb is not None:
                for cell in nb.cells:
                    for output in cell.get("outputs", []):
                        scrap = output.get("metadata", {}).get("scrapbook", {})
                        if "name" in scrap and "text/plain" in output.get("data", {}):
                            self.glue[scrap["name"]] = output["data"]["text/plain"]

    def doc_target(self, current, path):
        """The page a {doc} role or a relative link names, as a docname of the book (or None)."""
        path = path.split("#")[0]
        for suffix in (".ipynb", ".md", ".html"):
            if path.endswith(suffix):
                path = path[: -len(suffix)]
        candidate = path.lstrip("/") if path.startswith("/") else posixpath.normpath(
            posixpath.join(posixpath.dirname(current), path)
        )
        return candidate if candidate in self.pages else None


# --- Markdown, rewritten --------------------------------------------------------------------------------------


class Converter:
    """Rewrites one page's MyST as CommonMark (with the HTML Colab and JupyterLab render)."""

    def __init__(self, book, docname, number):
        self.book, self.docname, self.number = book, docname, number
        self.exercises = 0

    # roles and links

    def link(self, text, url):
        return f"[{text}]({url})"

    def reference(self, role, content):
        explicit = myst_blocks.split_title_target(content)
        text, label = explicit if explicit else (None, content.strip())
        if role == "doc":
            docname = self.book.doc_target(self.docname, label)
            if docname is None:
                return text or label
            return self.link(text or self.book.titles.get(docname, docname), page_url(self.book.config, docname))
        target = self.book.targets.get(label.lstrip("#"))
        if target is None:
            return text or label
        if role == "numref" and text and target.number:
            text = text.replace("%s", target.number.split()[-1]).replace("{number}", target.number.split()[-1])
        elif role in {"numref", "eq"} and not text:
            text = target.number or target.title
        shown = text or target.title
        if role != "eq" and not text and target.number and target.title != target.number:
            shown = target.title
        return self.link(shown, page_url(self.book.config, target.docname, target.anchor))

    def role(self, role, content):
        if role == "math":
            return f"${content}$"
        if role in {"ref", "numref", "doc", "eq", "any", "prf:ref", "std:ref", "external"}:
            return self.reference(role.split(":")[-1] if role != "prf:ref" else "ref", content)
        if role in {"sub", "sup"}:
            return f"<{role}>{content}</{role}>"
        if role in {"code", "kbd", "samp", "file", "command", "program", "guilabel", "menuselection"}:
            return f"`{content}`"
        if role == "download":
            explicit = myst_blocks.split_title_target(content)
            text, path = explicit if explicit else (content, content)
            path = posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), path))
            return self.link(text, raw_url(self.book.config, path))
        if role.startswith("glue"):
            return self.book.glue.get(content.strip(), content).strip("'")
        if role in {"abbr", "term", "cite", "cite:p", "cite:t"}:
            explicit = myst_blocks.split_title_target(content)
            return explicit[0] if explicit and role == "term" else content
        return content

    def relink(self, match):
        url = match["url"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", url) or url.startswith("#"):
            return match.group(0)
        if match["bang"]:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), url))
            return f"![{match['text']}]({raw_url(self.book.config, path)}{match['title'] or ''})"
        docname = self.book.doc_target(self.docname, url)
        if docname is None:
            return match.group(0)
        anchor = url.split("#", 1)[1] if "#" in url else None
        return f"[{match['text']}]({page_url(self.book.config, docname, anchor)}{match['title'] or ''})"

    def inline(self, text, drop=("target", "comment", "break")):
        """Markdown with MyST: roles and links rewritten, targets, comments and breaks dropped, a math block's
        label dropped, code and math as written."""
        out = []
        for piece in myst_blocks.pieces(text):
            if piece.kind == "role":
                out.append(self.role(piece.name, piece.content))
            elif piece.kind == "text":
                out.append(LINK.sub(self.relink, piece.text))
            elif piece.kind == "math" and piece.content:  # `$$ (label)` closes a labelled equation
                lines = piece.text.splitlines(keepends=True)
                close = lines[-1].rstrip("\n").rstrip()
                close = close[: close.rstrip().rindex("(")].rstrip()
                out.append("".join(lines[:-1]) + close + ("\n" if lines[-1].endswith("\n") else ""))
            elif piece.kind not in drop:
                out.append(piece.text)
        return "".join(out)

    def text(self, lines):
        """Ordinary Markdown lines: labels and comments go, roles and links are rewritten, code stays."""
        text = self.inline("\n".join(lines) + "\n")
        return text[:-1] if text.endswith("\n") else text

    # directives

    def convert(self, source):
        """A Markdown source with MyST, as CommonMark."""
        parts = []
        for block in myst_blocks.blocks(source):
            if block.name is None:
                parts.append(self.text(block.lines))
            else:
                parts.append(self.directive(block.name, block.argument, block.options, block.body))
        return "\n\n".join(part.strip("\n") for part in parts if part and part.strip())

    def title(self, argument):
        return self.inline(argument.strip(), drop=()) if argument else ""

    def directive(self, name, argument, options, body):
        inner = self.convert("\n".join(body))
        classes = options.get("class", "").split()
        if name in {"exercise", "exercise-start"}:
            self.exercises += 1
            heading = f"Exercise {self.number}.{self.exercises}"
            title = self.title(argument)
            stars = STARS.search(title)  # a difficulty such as "(★★)" goes next to the number
            if stars:
                heading += f" ({stars['stars']})"
                title = (title[: stars.start()] + title[stars.end() :]).strip()
            if title:
                heading += f": {title}"
            return quote(f"**{heading}**", inner)
        if name == "solution":
            return details("Solution", inner)
        if name in ADMONITIONS:
            title = self.title(argument) or ADMONITIONS[name]
            if name == "dropdown" or "dropdown" in classes:
                return details(title or "Details", inner)
            return quote(f"**{title}**" if title else "", inner)
        if name == "math":
            return f"$$\n{chr(10).join(body).strip()}\n$$"
        if name in CODE:
            language = argument.split()[0] if argument else ""
            return f"```{language}\n" + "\n".join(body) + "\n```"
        if name in {"figure", "image"}:
            path = argument.strip()
            url = path if re.match(r"^[a-z]+:", path) else raw_url(
                self.book.config, posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), path))
            )
            image = f"![{options.get('alt', '')}]({url})"
            return image + (f"\n\n*{inner}*" if inner.strip() else "")
        if name in DROPPED:
            return None
        if name == "raw":
            return "\n".join(body) if argument.strip() == "html" else None
        if name in PASSED_THROUGH:
            return inner
        if name in {"solution-start", "glossary"}:
            return inner
        return quote(f"**{self.title(argument)}**" if argument else "", inner)  # anything else: a titled quote


def quote(title, body):
    """A Markdown quote: the bold title, then the body."""
    text = "\n\n".join(part for part in (title, body.strip()) if part)
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def details(summary, body):
    """A fold: closed until the reader opens it (CommonMark reads the body as Markdown thanks to the blank lines)."""
    return f"<details>\n<summary><strong>{summary}</strong></summary>\n\n{body.strip()}\n\n</details>"


# --- Cells ----------------------------------------------------------------------------------------------------


def directive_name(source):
    """The name of the directive a Markdown source opens with (solution-start, ...), else None."""
    opening = myst_blocks.first_directive(source)
    return opening.name if opening else None


def output_text(output):
    """What a code cell's output shows as text (for a folded solution)."""
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.get("traceback", []))
    data = output.get("data", {})
    if "application/vnd.jupyter.widget-view+json" in data:
        return "(an interactive widget: run the code to use it)"
    if "image/png" in data and "text/plain" not in data:
        return "(a figure: run the code to draw it)"
    return data.get("text/plain", "")


def solution_cell(converter, cells, cell_id):
    """The cells of one solution as a single folded Markdown cell: prose, code in fenced blocks, printed output."""
    parts = []
    for cell in cells:
        if cell.cell_type == "markdown":
            parts.append(converter.convert(cell.source))
        elif cell.cell_type == "code":
            parts.append(f"```python\n{cell.source.strip()}\n```")
            printed = "".join(output_text(output) for output in cell.get("outputs", [])).rstrip("\n")
            if printed:
                parts.append(f"Output:\n\n```text\n{printed}\n```")
    cell = nbformat.v4.new_markdown_cell(details("Solution", "\n\n".join(p for p in parts if p.strip())))
    cell.id = cell_id
    return cell


def new_id(*parts):
    """A stable cell id from what the cell derives from (nbformat's ids are random; the edition must not be)."""
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:16]


def edition_badge(config, notebook):
    """The first cell of an edition: its own Colab badge and what this copy is."""
    docname = notebook.resolve().relative_to(ROOT).with_suffix("").as_posix()
    return (
        f"{badge_source(config, notebook)}\n\n"
        f"*The Colab and Jupyter edition of [this chapter on the book's site]({page_url(config, docname)}): "
        "the same cells and outputs, solutions folded, cross references linked to the site.*"
    )


def workspace_cell(cell_id):
    """An empty code cell for the reader's own attempt at an exercise (the edition's only cell the chapter lacks)."""
    cell = nbformat.v4.new_code_cell("")
    cell.id = cell_id
    cell.metadata["tags"] = [WORKSPACE_TAG]
    return cell


def fold(cell, tags):
    """Carry a site-only tag over as the fold Jupyter and Colab understand (the tag itself goes)."""
    jupyter = dict(cell.metadata.get("jupyter", {}))
    if tags & {"remove-input", "hide-input", "hide-cell"}:
        jupyter["source_hidden"] = True
        cell.metadata["cellView"] = "form"
    if tags & {"remove-output", "hide-output", "hide-cell"}:
        jupyter["outputs_hidden"] = True
    if jupyter:
        cell.metadata["jupyter"] = jupyter
    kept = [tag for tag in cell.metadata.get("tags", []) if tag not in SITE_ONLY_TAGS]
    if kept:
        cell.metadata["tags"] = kept
    else:
        cell.metadata.pop("tags", None)


def build(notebook, book):
    """The edition of one chapter, as a notebook (nothing executed: outputs and widget state are the chapter's)."""
    config = book.config
    notebook = pathlib.Path(notebook).resolve()
    docname = notebook.relative_to(ROOT).with_suffix("").as_posix()
    chapters = [page for page in book.pages if (ROOT / f"{page}.ipynb").exists()]
    number = chapter_number(docname, chapters.index(docname) + 1 if docname in chapters else 0)
    converter = Converter(book, docname, number)
    source = nbformat.read(notebook, as_version=4)
    edition = copy.deepcopy(source)
    edition.cells = []
    solution = None  # the cells of the solution being read, between solution-start and solution-end
    for index, cell in enumerate(source.cells):
        cell = copy.deepcopy(cell)
        tags = set(cell.metadata.get("tags", []))
        cell_id = cell.get("id") or new_id(docname, str(index))
        if BADGE_TAG in tags:
            cell.source = edition_badge(config, notebook)
            fold(cell, set())
            edition.cells.append(cell)
            continue
        if SETUP_TAG in tags:
            fold(cell, set())
            edition.cells.append(cell)
            continue
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            name = directive_name(cell.source)
            if name == "solution-start":
                solution = [cell]
                start_id = cell_id
                continue
            if name == "solution-end" and solution is not None:
                edition.cells.append(solution_cell(converter, solution[1:] + [cell], new_id(start_id, "solution")))
                solution = None
                continue
            if solution is not None:
                solution.append(cell)
                continue
            cell.source = converter.convert(cell.source)
            fold(cell, set())  # a Markdown cell's site-only tags mean nothing here
            if cell.source.strip():
                edition.cells.append(cell)
            if name in EXERCISE_ENDS:  # a cell to work in, after the exercise and before its solution's fold
                edition.cells.append(workspace_cell(new_id(cell_id, "workspace")))
            continue
        if solution is not None:
            solution.append(cell)
            continue
        if cell.cell_type == "code":
            fold(cell, tags)
            if tags & {"remove-output"}:
                cell.outputs = []
        edition.cells.append(cell)
    if solution is not None:
        raise ValueError(f"{notebook.name}: a solution-start without its solution-end")
    return edition


def render(notebook, book):
    """The edition of one chapter as the text the file holds."""
    return nbformat.writes(build(notebook, book)) + "\n"


def write(notebooks=None, config=None):
    """Write the edition of every chapter (or of those named); drop editions of chapters no longer in the book."""
    config = config or load_config()
    book = Book(config)
    chapters = toc_chapters()
    EDITION.mkdir(exist_ok=True)
    changed = []
    for notebook in notebooks or chapters:
        target = edition_path(notebook)
        text = render(notebook, book)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            changed.append(target)
    names = {path.name for path in chapters}
    for stale in EDITION.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
            changed.append(stale)
    return changed


def stale(config=None):
    """Edition files that differ from what write() would write, or that are missing or left over."""
    config = config or load_config()
    book = Book(config)
    chapters = toc_chapters()
    out = [edition_path(n) for n in chapters if not edition_path(n).exists()
           or edition_path(n).read_text() != render(n, book)]
    names = {path.name for path in chapters}
    out += [path for path in EDITION.glob("*.ipynb") if path.name not in names]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether the committed edition is current")
    args = parser.parse_args(argv)
    if args.check:
        out = stale()
        for path in out:
            print(f"out of date: {path.relative_to(ROOT)} (run `make sync`)")
        return 1 if out else 0
    for path in write():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
