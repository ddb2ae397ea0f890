"""examples/word_embeddings.ipynb: in step with its text twin, and (with the [notebook] extra and the
real archive) run top to bottom without an error."""
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from conftest import REAL_ARCHIVE

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK, TWIN = ROOT / "examples" / "word_embeddings.ipynb", ROOT / "examples" / "word_embeddings.py"
REQUIRED = os.environ.get("NPEMBED_REQUIRE_NOTEBOOK") == "1"          # .ci/run: run, never skip


def needs(module):
    if importlib.util.find_spec(module) is None:
        if REQUIRED:
            pytest.fail(f"{module} is missing but NPEMBED_REQUIRE_NOTEBOOK=1: pip install -e '.[notebook]'")
        pytest.skip(f"{module} is not installed (pip install -e '.[notebook]')")
    return importlib.import_module(module)


def test_the_notebook_is_its_twin_cell_for_cell():
    jupytext, nbformat = needs("jupytext"), needs("nbformat")
    twin = jupytext.read(TWIN)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source) for c in notebook.cells] == [(c.cell_type, c.source) for c in twin.cells]
    # the committed copy holds a run's outputs: every code cell ran, in order
    counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))
    assert not any(o.get("output_type") == "error" for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
def test_the_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    if not REAL_ARCHIVE.exists():
        pytest.skip(f"no real archive at {REAL_ARCHIVE}")
    nbformat, nbclient = needs("nbformat"), needs("nbclient")
    needs("ipykernel")
    monkeypatch.setenv("NPEMBED_IMDB", str(REAL_ARCHIVE))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()   # raises on any error
    outputs = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "Epoch 30/30" in outputs and "test accuracy 0.8" in outputs
    assert (tmp_path / "out" / "word_embeddings" / "explorer.html").stat().st_size > 1_000_000
