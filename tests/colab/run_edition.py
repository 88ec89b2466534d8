"""Run one notebook of the Colab edition the way Colab would, in the Colab-like environment (.venv-colab).

    .venv-colab/bin/python tests/colab/run_edition.py NOTEBOOK ORIGINAL_SPEC LOCAL_SPEC

Run by tests/test_colab.py with this folder on PYTHONPATH, so the kernel starts with the `google.colab`
stand-in imported (sitecustomize.py), as Colab's does. Before running, the set-up cell's install of the book's
package (ORIGINAL_SPEC, the repository's address readers see) is pointed at LOCAL_SPEC, the local checkout. Every
code cell runs, top to bottom; the folded solutions' code is the chapters' solution cells word for word (the
edition is generated, and a test keeps it in step), which nbval already runs. A last cell checks that the set-up
cell turned on Colab's widget manager. Exit status 0 when every cell ran without an error; otherwise the failing
cell and its error are printed.
"""

import pathlib
import sys
import tempfile

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

TIMEOUT_SECONDS = 600


def prepare(nb, original_spec, local_spec):
    """The notebook to run: the install pointed at the checkout, and the widget manager check at the end."""
    setup = [cell for cell in nb.cells if "colab-setup" in cell.metadata.get("tags", [])]
    if len(setup) != 1 or original_spec not in setup[0].source:
        raise SystemExit(f"no set-up cell installing {original_spec!r}")
    setup[0].source = setup[0].source.replace(original_spec, local_spec)
    nb.cells.append(nbformat.v4.new_code_cell(
        "from google.colab import output\n"
        "assert output.custom_widget_manager_enabled, 'the set-up cell did not turn on the widget manager'"
    ))
    return nb


def main(notebook, original_spec, local_spec):
    nb = prepare(nbformat.read(notebook, as_version=4), original_spec, local_spec)
    with tempfile.TemporaryDirectory() as content:  # Colab's /content: an empty folder
        client = NotebookClient(nb, timeout=TIMEOUT_SECONDS, kernel_name="python3",
                                resources={"metadata": {"path": content}})
        try:
            client.execute()
        except CellExecutionError as error:
            print(f"{pathlib.Path(notebook).name}: {error}")
            return 1
    print(f"{pathlib.Path(notebook).name}: {sum(c.cell_type == 'code' for c in nb.cells)} code cells ran")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
