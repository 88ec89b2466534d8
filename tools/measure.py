"""Time the book's commands for the table in benchmarks/README.md: `make measure` (after `make book` installed all).

1. the site build with everything installed: _build removed, then `make book` (no chapter is executed: the site
   shows the committed outputs);
2. the rebuild after editing one chapter (Sphinx rewrites the pages that changed);
3. `make test`, with the book, the slides and the PDF already built (each is made again only if what it is made
   from changed: tools/fingerprint.py).
Then the browser's figures recorded by tests/test_site.py and tests/test_explorables.py (the slowest explorable,
the heaviest page). Prints a markdown table and writes
_build/measurements/build.json.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
EDITED = ROOT / "chapters" / "02_softmax.ipynb"


def timed(command):
    """Run a shell command in the repo; return its wall time in seconds (if it fails, stop with the end of its output)."""
    start = time.perf_counter()
    run = subprocess.run(command, shell=True, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if run.returncode != 0:  # say why, not only that it failed
        sys.exit(f"`{command}` failed (exit status {run.returncode}); the end of its output:\n{run.stdout[-6000:]}")
    return time.perf_counter() - start


def edit_one_cell(path):
    """Change one chapter (a sentence added to its last Markdown cell), so that its page must be built again."""
    nb = nbformat.read(path, as_version=4)
    cell = [c for c in nb.cells if c.cell_type == "markdown"][-1]
    cell.source += "\n\nEdited by tools/measure.py."
    nbformat.write(nb, path)


def main():
    """Measure, print the table, save the numbers."""
    shutil.rmtree(ROOT / "_build", ignore_errors=True)
    figures = {"site build, everything installed (s)": timed("make book")}
    original = EDITED.read_bytes()
    try:
        edit_one_cell(EDITED)
        figures["rebuild after editing one chapter (s)"] = timed("make book")
    finally:
        EDITED.write_bytes(original)
    timed("make book slides pdf")  # back to the committed chapter; the slides and the PDF built as make test builds them
    figures["make test, book, slides and PDF already built (s)"] = timed("make test")
    measured = ROOT / "_build" / "measurements"
    slowest = json.loads((measured / "explorable_latency_ms_slowest.json").read_text())
    figures[f"slowest explorable ({slowest['explorable']}), move to updated figure, median (ms)"] = slowest["median_ms"]
    heaviest = json.loads((measured / "heaviest_page_bytes.json").read_text())
    figures[f"heaviest page ({heaviest['page']}), bytes loaded uncompressed"] = heaviest["bytes"]
    out = measured / "build.json"
    out.write_text(json.dumps({k: round(v, 2) for k, v in figures.items()}, indent=2) + "\n")
    print(f"| figure (measured on {os.cpu_count()} cores) | value |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.1f} |" if isinstance(value, float) else f"| {name} | {value:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
