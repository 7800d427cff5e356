"""The example notebook, executed as a new user runs it (nbclient, a real kernel):
it trains a small model on real digits in a cell, builds its atlas with
atlas.build and shows a unit, a layer and the atlas inline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parent.parent / "examples" / "notebook.ipynb"


def _html(cell) -> str:
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.outputs)


def test_the_example_notebook_runs_and_shows_units_inline(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = {cell.source.splitlines()[0]: cell for cell in notebook.cells
            if cell.cell_type == "code"}
    errors = [output for cell in code.values() for output in cell.outputs
              if output.output_type == "error"]
    assert errors == []
    accuracy = code["class SmallNet(nn.Module):"].outputs[0]["data"]["text/plain"]
    assert float(accuracy.split()[-1].rstrip("%'")) > 90
    unit = _html(code["a.unit('conv2', 3)"])
    assert "conv2:3" in unit and unit.count("data:image/png;base64,") >= 10
    assert "<em>positive</em>" in unit and "faithfulness" in unit
    assert _html(code["a.layer('conv2')"]).count("data:image/png;base64,") == 16
    assert "fc" in _html(code["a = atlas.build(model, layers=['conv2', 'fc'], dataset=dataset, "
                              "out='site',"])
    assert (tmp_path / "site" / "units" / "conv2" / "3.html").is_file()
    page = code["a.page(unit)  # the unit's HTML page in the site"].outputs[0]
    assert page["data"]["text/plain"].endswith("site/units/fc/7.html')")
