"""The Colab edition (colab/): in step with the chapters, free of MyST, readable in JupyterLab, runnable in Colab."""

import concurrent.futures
import html as html_module
import os
import re
import shutil
import subprocess

import nbformat
import pytest
from markdown_it import MarkdownIt

import colab_edition  # tools/colab_edition.py, on the path from conftest
import notebooks as tool
from conftest import ROOT, SHOTS, SITE, Page, toc_chapters
from helpers import JUPYTERLAB_TOKEN as TOKEN, jupyterlab

CHAPTERS = toc_chapters()
IDS = [path.stem for path in CHAPTERS]
COLAB_VENV = ROOT / ".venv-colab"
STAND_IN = ROOT / "tests" / "colab"
SCREENSHOT_CHAPTER = ROOT / "colab" / "01_sigmoid.ipynb"

# What MyST leaves behind when a CommonMark renderer (as Jupyter's and Colab's are) does not understand it.
MYST_LEFTOVERS = {
    "directive fence ```{name}": re.compile(r'class="language-\{[\w:.-]+\}'),
    "directive fence :::{name}": re.compile(r":{3,}\{[\w:.-]+\}"),
    "role {name}`...`": re.compile(r"\{[\w:.-]+\}<code>"),
    "target (label)=": re.compile(r"(?:^|>|\n)\([\w:.-]+\)=", re.M),
    "equation label $$ (label)": re.compile(r"\$\$\s*\([\w:.-]+\)"),
    "directive option :key: value": re.compile(r"(?:<p>|\n):(?:label|class|name|alt|width|align|nonumber):"),
    "sphinx-exercise marker": re.compile(r"\{(?:exercise|solution|solution-start|solution-end)\}"),
}


def read(path):
    return nbformat.read(path, as_version=4)


def edition(path):
    return read(colab_edition.edition_path(path))


def myst_leftovers(nb):
    """[(cell index, what was found, excerpt)] for every MyST construct left in the notebook's rendered Markdown."""
    renderer = MarkdownIt("commonmark")
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        html = renderer.render(cell.source)
        for name, pattern in MYST_LEFTOVERS.items():
            for match in pattern.finditer(html):
                found.append((index, name, html[max(0, match.start() - 60) : match.end() + 60]))
    return found


def solution_code_cells(nb):
    """How many code cells a chapter has between its solution-start and solution-end cells."""
    inside, count = False, 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "{solution-start}" in cell.source:
            inside = True
        elif cell.cell_type == "markdown" and "{solution-end}" in cell.source:
            inside = False
        elif inside and cell.cell_type == "code":
            count += 1
    return count


def test_committed_edition_is_what_the_chapters_give():
    stale = [path.relative_to(ROOT).as_posix() for path in colab_edition.stale()]
    assert stale == [], f"the Colab edition is out of date with the chapters: run `make sync` and commit {stale}"


def test_the_myst_check_finds_the_myst_the_chapters_are_written_in():
    """The check below can fail: on the chapters themselves it finds directives and roles."""
    found = {name for path in CHAPTERS for _, name, _ in myst_leftovers(read(path))}
    assert {"directive fence ```{name}", "sphinx-exercise marker"} <= found, found
    sample = "(intro)=\n# Title\n\n:::{note}\nx\n:::\n\nSee {ref}`intro` and\n$$\nx\n$$ (eq-x)\n"
    assert {name for _, name, _ in myst_leftovers(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(sample)]))} == {
        "target (label)=", "directive fence :::{name}", "role {name}`...`", "equation label $$ (label)"}


SAMPLE_PAGES = {
    "chapters/01_a": ["# Chapter A\n\n(sec-a)=\n## Where it overflows\n",
                      "```{exercise} (★) First\n:label: ex-a\nDo it.\n```",
                      "```{math}\n:label: eq-a\nx\n```"],
    "chapters/02_b": ["# Chapter B\n"],
}
SAMPLE = """(sec-b)=
% a comment
::::{admonition} Why?
:class: tip
Nested:
:::{note}
Inner with {math}`x^2`.
:::
::::

:::{admonition} More
:class: dropdown
Folded text.
:::

$$
y = x
$$ (eq-y)

See {ref}`sec-a`, {ref}`that part <sec-a>`, {numref}`ex-a`, {eq}`eq-a`, {doc}`01_a`, [A](01_a.ipynb#top),
![plot](../assets/plot.png) and `{ref}` in code.

```markdown
:::{note}
shown as it is
:::
```

```{exercise} Second (★★)
:label: ex-b
Try.
```
+++
"""


def test_myst_becomes_commonmark_with_links_to_the_site():
    """The constructs chapters use, and those they may use, on a made-up two-page book."""
    config = tool.load_config()
    book = colab_edition.Book(config, pages=list(SAMPLE_PAGES), read=lambda name: (SAMPLE_PAGES[name], None))
    converter = colab_edition.Converter(book, "chapters/02_b", "2")
    out = converter.convert(SAMPLE)
    site = colab_edition.site_url(config)
    assert out.startswith("> **Why?**\n>\n> Nested:\n>\n> > **Note**\n> >\n> > Inner with $x^2$.")
    assert "<details>\n<summary><strong>More</strong></summary>\n\nFolded text.\n\n</details>" in out
    assert "$$\ny = x\n$$" in out and "(eq-y)" not in out
    assert f"[Where it overflows]({site}chapters/01_a.html#sec-a)" in out
    assert f"[that part]({site}chapters/01_a.html#sec-a)" in out
    assert f"[Exercise 1.1]({site}chapters/01_a.html#ex-a)" in out
    assert f"[(1)]({site}chapters/01_a.html#equation-eq-a)" in out
    assert f"[Chapter A]({site}chapters/01_a.html)" in out and f"[A]({site}chapters/01_a.html#top)" in out
    assert "](https://raw.githubusercontent.com/" in out and "assets/plot.png)" in out
    assert "`{ref}` in code" in out and "```markdown\n:::{note}\nshown as it is\n:::\n```" in out
    assert "> **Exercise 2.1 (★★): Second**\n>\n> Try." in out
    assert "% a comment" not in out and "+++" not in out and "(sec-b)=" not in out
    rest = out.replace("```markdown\n:::{note}\nshown as it is\n:::\n```", "")
    assert myst_leftovers(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(rest)])) == []


def test_roles_after_code_spans_and_in_math_are_read_as_the_parser_reads_them():
    """tools/myst_blocks.py decides what is code: a role after a code span is still a role, one in math is not."""
    book = colab_edition.Book(tool.load_config(), pages=["chapters/02_b"], read=lambda name: ([], None))
    converter = colab_edition.Converter(book, "chapters/02_b", "2")
    out = converter.convert("Type `{ref}`x`` for {math}`y^2`; $a_{ref}$ stays.\n\n    {math}`indented code`\n")
    assert out == "Type `{ref}`x`` for $y^2$; $a_{ref}$ stays.\n\n    {math}`indented code`"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_edition_markdown_renders_as_commonmark_with_no_myst_left(path):
    assert myst_leftovers(edition(path)) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_edition_keeps_the_chapter_numbers_its_exercises_and_folds_its_solutions(path):
    chapter, copy = read(path), edition(path)
    config = tool.load_config()
    nbformat.validate(copy)  # Colab and JupyterLab open it
    ids = [cell.get("id") for cell in copy.cells]
    assert len(set(ids)) == len(ids) and None not in ids
    markdown = "\n".join(cell.source for cell in copy.cells if cell.cell_type == "markdown")
    exercises = len(re.findall(r"```\{exercise\}", "\n".join(c.source for c in chapter.cells)))
    number = int(path.name.split("_")[0])
    assert re.findall(r"^> \*\*Exercise (\d+)\.(\d+)", markdown, re.M) == [
        (str(number), str(k)) for k in range(1, exercises + 1)
    ]
    folds = [cell for cell in copy.cells if cell.cell_type == "markdown" and cell.source.startswith("<details>")]
    assert len(folds) == exercises and all("<summary><strong>Solution</strong></summary>" in c.source for c in folds)
    assert all("```python" in fold.source for fold in folds), "a solution's code is in its fold"
    # After each exercise, an empty code cell to work in, then the solution's fold.
    for index, cell in enumerate(copy.cells):
        if cell.cell_type == "markdown" and re.match(r"> \*\*Exercise ", cell.source):
            workspace, after = copy.cells[index + 1], copy.cells[index + 2]
            assert workspace.cell_type == "code" and workspace.source == "" and workspace.outputs == [], cell.source
            assert workspace.metadata["tags"] == [colab_edition.WORKSPACE_TAG]
            assert after.source.startswith("<details>\n<summary><strong>Solution"), cell.source[:60]
    workspaces = [cell for cell in copy.cells if colab_edition.WORKSPACE_TAG in cell.metadata.get("tags", [])]
    assert len(workspaces) == exercises
    # The badge opens this very edition; the set-up cell is shown; nothing is tagged for the site only.
    assert f"({tool.colab_url(config, path)})" in copy.cells[0].source
    assert "/colab/" in tool.colab_url(config, path)
    setup = [cell for cell in copy.cells if tool.SETUP_TAG in cell.metadata.get("tags", [])]
    assert [cell.source for cell in setup] == [tool.setup_source(config)]
    assert not [cell for cell in copy.cells if set(cell.metadata.get("tags", [])) & colab_edition.SITE_ONLY_TAGS]
    # Every other code cell is the chapter's own, with its outputs, and the widget state comes along.
    kept = [cell for cell in chapter.cells if cell.cell_type == "code"]
    assert len([cell for cell in copy.cells if cell.cell_type == "code"]) == (
        len(kept) - solution_code_cells(chapter) + len(workspaces))
    by_id = {cell.get("id"): cell for cell in copy.cells}
    for cell in kept:
        if cell.get("id") in by_id:
            assert by_id[cell.get("id")].outputs == cell.outputs
            assert by_id[cell.get("id")].source == cell.source
    assert copy.metadata.get("widgets") == chapter.metadata.get("widgets")


def test_site_and_edition_number_and_title_the_exercises_alike():
    """An instructor who says "exercise 6.2" means the same exercise on the site, in Colab and in the PDF."""
    for path in CHAPTERS:
        html = (SITE / "chapters" / f"{path.stem}.html").read_text()
        site = re.findall(r'<span class="caption-number">Exercise (\d+\.\d+) </span>\s*\((.*?)\)</p>', html, re.S)
        markdown = "\n".join(cell.source for cell in edition(path).cells if cell.cell_type == "markdown")
        copy = re.findall(r"^> \*\*Exercise (\d+\.\d+)(?: (\(★+\)))?: (.*?)\*\*$", markdown, re.M)
        assert site and [(n, " ".join(html_module.unescape(t).replace("\u2019", "'").split())) for n, t in site] == [
            (n, f"{t} {stars}" if stars else t) for n, stars, t in copy], path.stem


def test_edition_cross_references_lead_to_pages_and_anchors_the_site_has():
    base = colab_edition.site_url(tool.load_config())
    links = set()
    for path in CHAPTERS:
        for cell in edition(path).cells:
            if cell.cell_type == "markdown":
                links.update(re.findall(rf"\]\(({re.escape(base)}[^)\s]*)\)", cell.source))
    assert any("#" in link for link in links), "no cross reference to an anchor at all"
    if not (SITE / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test does it first)")
    missing = []
    for link in sorted(links):
        page, _, anchor = link[len(base) :].partition("#")
        html = SITE / page
        if not html.is_file() or (anchor and f'id="{anchor}"' not in html.read_text()):
            missing.append(link)
    assert missing == []


def test_site_launches_and_downloads_the_edition():
    config = tool.load_config()
    for path in CHAPTERS:
        html = (SITE / "chapters" / f"{path.stem}.html").read_text()
        assert f'href="{tool.colab_url(config, path)}"' in html
        assert "/colab/" in tool.colab_url(config, path)
        assert (SITE / "_sources" / "chapters" / path.name).read_bytes() == colab_edition.edition_path(path).read_bytes()


# --- The edition opened in plain JupyterLab (no MyST extension) ---------------------------------------------


@pytest.fixture
def jupyterlab_with_the_edition(tmp_path):
    """JupyterLab (no MyST extension) serving a folder holding one edition notebook; yields its base URL."""
    folder = tmp_path / "reader"
    folder.mkdir()
    shutil.copy(SCREENSHOT_CHAPTER, folder / SCREENSHOT_CHAPTER.name)
    settings = {
        "notebook-extension/tracker": {"windowingMode": "none"},  # every cell rendered, for the page's text
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    with jupyterlab(folder, tmp_path, settings) as base:
        yield base


def test_edition_reads_cleanly_in_plain_jupyterlab(browser, jupyterlab_with_the_edition):
    reader = Page(browser)
    page = reader.page
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{jupyterlab_with_the_edition}/lab/tree/{SCREENSHOT_CHAPTER.name}?token={TOKEN}")
        page.locator(".jp-Notebook .jp-MarkdownOutput").first.wait_for(timeout=60000)
        page.wait_for_function("document.querySelectorAll('.jp-Notebook details').length >= 2", timeout=30000)
        for button in page.locator(".jp-Dialog button.jp-mod-reject").all():  # a kernel prompt, if any
            button.click()
        shown = page.evaluate(
            """() => {
                const notebook = document.querySelector('.jp-Notebook');
                const folds = [...notebook.querySelectorAll('details')];
                return {
                    text: notebook.innerText,
                    quotes: [...notebook.querySelectorAll('.jp-MarkdownOutput blockquote strong')]
                        .map((el) => el.textContent),
                    folds: folds.length,
                    closed: folds.filter((el) => !el.open).length,
                };
            }"""
        )
        page.screenshot(path=str(SHOTS / "jupyterlab-colab-edition-top.png"))
        fold = page.locator(".jp-Notebook details").first
        fold.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "jupyterlab-colab-edition-exercises.png"))
        fold.locator("summary").click()  # the reader opens the first solution: its code is there to copy
        opened = fold.evaluate("el => ({open: el.open, code: [...el.querySelectorAll('pre')].map((p) => p.innerText)})")
        page.screenshot(path=str(SHOTS / "jupyterlab-colab-edition-solution-open.png"))
        for raw in (":::{", "{exercise}", "{solution-start}", "{solution-end}", "{ref}`", "{admonition}"):
            assert raw not in shown["text"], raw
        assert "Learning goals" in shown["quotes"]
        assert any(title.startswith("Exercise 1.1") for title in shown["quotes"]), shown["quotes"]
        assert shown["folds"] >= 2 and shown["closed"] == shown["folds"], shown  # every solution starts folded
        assert opened["open"] and any("assert" in code for code in opened["code"]), opened
        assert reader.errors == []
    finally:
        page.screenshot(path=str(SHOTS / "jupyterlab-colab-edition-last-view.png"))
        reader.close()


# --- The edition run as in Colab ------------------------------------------------------------------------------


def run_in_colab_venv(notebook, local_spec):
    """Run one edition notebook in .venv-colab (tests/colab/run_edition.py); (name, ok, what it printed)."""
    env = dict(
        os.environ,
        PYTHONPATH=str(STAND_IN),  # sitecustomize.py imports the google.colab stand-in, in the kernel too
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        OMP_NUM_THREADS="1",  # two chapters at once on two cores
    )
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [str(COLAB_VENV / "bin" / "python"), str(STAND_IN / "run_edition.py"), str(notebook),
         tool.install_spec(tool.load_config()), local_spec],
        capture_output=True, text=True, env=env, timeout=900,
    )
    return notebook.name, result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def test_every_edition_chapter_runs_top_to_bottom_in_a_colab_like_environment(tmp_path):
    """Only what Colab has (requirements-colab.txt), a google.colab stand-in, the package from this checkout."""
    python = COLAB_VENV / "bin" / "python"
    if not python.exists():
        pytest.fail(".venv-colab is missing: `make test` makes it from requirements-colab.txt")
    # The checkout's package, built once as pip would build it from the repository (into a copy, so that the
    # build leaves nothing in the work tree); every set-up cell then installs that wheel.
    source = tmp_path / "xentbook-checkout"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "xentbook", source / "xentbook", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([str(python), "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                            str(tmp_path / "wheel"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    local_spec = f"xentbook @ {next((tmp_path / 'wheel').glob('xentbook-*.whl')).as_uri()}"
    # A fresh start: the first chapter's set-up cell must install the package itself.
    subprocess.run([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "xentbook"], capture_output=True)
    editions = [colab_edition.edition_path(path) for path in CHAPTERS]
    results = [run_in_colab_venv(editions[0], local_spec)]  # installs; the others find it installed
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results += list(pool.map(lambda notebook: run_in_colab_venv(notebook, local_spec), editions[1:]))
    failed = [f"{name}:\n{output}" for name, ok, output in results if not ok]
    assert failed == [], "\n\n".join(failed)
    installed = subprocess.run([str(python), "-m", "pip", "show", "xentbook"], capture_output=True, text=True)
    assert "Name: xentbook" in installed.stdout, "the set-up cell did not install the book's package"


def test_the_build_tools_import_one_another_without_a_cycle():
    """tools/notebooks.py runs the Colab edition, so tools/colab_edition.py must not import it back: the names both
    need live in tools/book_config.py."""
    import ast

    tools = ROOT / "tools"
    names = {path.stem for path in tools.glob("*.py")}
    imports = {}
    for path in tools.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
        imports[path.stem] = found & names - {path.stem}
    assert "colab_edition" in imports["notebooks"] and "book_config" in imports["colab_edition"]

    def reaches(start, goal, seen=()):
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, (*seen, nxt))) for nxt in imports[start])

    assert [name for name in sorted(imports) if reaches(name, name)] == []
