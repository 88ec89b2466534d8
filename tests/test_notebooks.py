"""The chapters as files: listed, executed, standalone, in sync with the package and with _config.yml."""

import ast
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT, toc_pages, toc_chapters

NOTEBOOKS = toc_chapters()
IDS = [path.stem for path in NOTEBOOKS]
# What a chapter builds in front of the reader and the package keeps for later chapters, benchmarks and tests.
LESSON_CODE = {
    "xentbook.scratch": ["sigmoid", "bce", "softmax", "nl", "log_softmax", "nll"],
    "xentbook.accuracy": ["log_softmax_log1p"],
    "xentbook.chunked": ["check_cross_entropy_options", "cross_entropy_rows", "ChunkedCrossEntropy",
                         "chunked_cross_entropy"],
    "xentbook.vocab_parallel": ["VocabParallelCrossEntropy", "check_targets", "vocab_parallel_cross_entropy"],
    "xentbook.fused": ["default_chunk_size", "walk_chunks", "LinearCrossEntropy", "linear_cross_entropy"],
}
import notebooks as tool  # noqa: E402  (tools/notebooks.py, on the path from conftest)


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_every_chapter_in_the_toc_exists():
    missing = [name for name in toc_pages() if not any((ROOT / f"{name}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert missing == []
    assert len(NOTEBOOKS) >= 6


def test_every_chapter_notebook_is_in_the_toc():
    listed = set(NOTEBOOKS)
    assert sorted(p.name for p in (ROOT / "chapters").glob("*.ipynb") if p not in listed) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_is_committed_executed_without_errors(path):
    nb = read(path)
    cells = code_cells(nb)
    assert cells, "a chapter without code"
    unexecuted = [i for i, cell in enumerate(cells) if cell.source.strip() and cell.execution_count is None]
    assert unexecuted == [], f"code cells never executed: {unexecuted}"
    counts = [cell.execution_count for cell in cells if cell.execution_count is not None]
    assert counts == list(range(1, len(counts) + 1)), "not executed top to bottom in one fresh kernel"
    errors = [o for cell in cells for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    stderr = [o.text for cell in cells for o in cell.outputs if o.get("name") == "stderr"]
    assert stderr == [], "warnings belong in the lesson (captured and printed) or silenced at their source"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_opens_with_its_own_colab_badge_and_setup_cell(path):
    config = tool.load_config()
    nb = read(path)
    badge, setup = nb.cells[0], nb.cells[1]
    assert tool.BADGE_TAG in badge.metadata.get("tags", [])
    expected_link = (
        f"https://colab.research.google.com/github/{tool.github_slug(config)}/blob/"
        f"{config['repository']['branch']}/colab/{path.name}"  # the chapter's Colab edition (tools/colab_edition.py)
    )
    assert f"({expected_link})" in badge.source
    assert badge.source == tool.badge_source(config, path)
    assert setup.source == tool.setup_source(config)
    assert config["repository"]["url"] in setup.source
    for banned in ("torch", "numpy", "matplotlib"):  # Colab has them: never reinstall
        install_line = next(line for line in setup.source.splitlines() if "pip" in line)
        assert f'"{banned}' not in install_line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_has_goals_exercises_with_checked_solutions_and_a_summary(path):
    nb = read(path)
    markdown = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert len(re.findall(r"^# ", markdown, re.M)) == 1, "one title"
    assert "Learning goals" in markdown
    assert "## Summary" in markdown
    exercises = re.findall(r"```\{exercise\}", markdown)
    assert 2 <= len(exercises) <= 4
    # Every solution (between solution-start and solution-end) ends in a check that nbval runs.
    inside, last_code, checked = False, None, 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "{solution-start}" in cell.source:
            inside, last_code = True, None
        elif cell.cell_type == "markdown" and "{solution-end}" in cell.source:
            assert last_code is not None, "a solution without code"
            assert re.search(r"\bassert\b|assert_close", last_code.source), last_code.source
            inside, checked = False, checked + 1
        elif inside and cell.cell_type == "code":
            last_code = cell
    assert checked == len(exercises)


def _definitions(nb):
    """{name: source} of every cell that is one top-level function or class definition."""
    found = {}
    for cell in code_cells(nb):
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        if len(tree.body) == 1 and isinstance(tree.body[0], (ast.FunctionDef, ast.ClassDef)):
            found[tree.body[0].name] = cell.source.strip()
    return found


def _all_definitions():
    """{name: [(chapter file, source), ...]} of every one-definition cell in the book."""
    defined = {}
    for path in NOTEBOOKS:
        for name, source in _definitions(read(path)).items():
            defined.setdefault(name, []).append((path.name, source))
    return defined


@pytest.mark.parametrize(
    ("module_name", "name"), [(module, name) for module, names in LESSON_CODE.items() for name in names]
)
def test_lesson_code_is_defined_once_in_the_book_exactly_as_in_the_package(module_name, name):
    expected = inspect.getsource(getattr(importlib.import_module(module_name), name)).strip()
    definitions = _all_definitions().get(name, [])
    assert [source for _, source in definitions] == [expected], f"{name}: {[c for c, _ in definitions]}"


def test_saved_widget_front_end_is_the_current_one():
    saved = 0
    for path in NOTEBOOKS:
        state = read(path).metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        for model in state.get("state", {}).values():
            if "_esm" in model.get("state", {}):
                module_name, _, class_name = model["state"]["_anywidget_id"].rpartition(".")
                widget = getattr(importlib.import_module(module_name), class_name)
                assert model["state"]["_esm"] == widget._esm, f"{path.name}: re-run `make execute` and commit"
                assert model["state"]["_css"] == widget._css, f"{path.name}: re-run `make execute` and commit"
                saved += 1
    assert saved >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_runs_alone_and_reproduces_its_outputs(path, tmp_path):
    """Copied alone into an empty folder, the chapter runs in a fresh kernel and nbval finds no difference."""
    alone = tmp_path / path.name
    shutil.copy(path, alone)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval", "--nbval-current-env",
         "--rootdir", str(tmp_path), "-c", "/dev/null", str(alone)],
        cwd=tmp_path,
        # One thread: make test runs two or three of these at once on two cores, and torch's threads fighting
        # over them cost a third of the time. Every output is the same on one thread (this test proves it).
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout)
    assert "failed" not in result.stdout.splitlines()[-1]
