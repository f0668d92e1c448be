"""Jupyter: a small notebook executed by nbclient in a real kernel (this venv's python, this tree's code) shows
progress bars, the artifacts' HTML summaries, the results as an HTML table and listings as DataFrames."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

pytestmark = pytest.mark.timeout(240)

CELLS = [
    # 0: the notebook display is chosen, and a bar is drawn in the cell output
    """
from polaris.progress import Progress, in_notebook, progress_kind
print(in_notebook(), progress_kind(True))
with Progress(True, "download demo.bin", 4096) as bar:
    for _ in range(4):
        bar.advance(1024)
""",
    # 1: a real transfer from the local Hub, then the dataset's HTML summary
    """
from polaris.hub.client import PolarisHubClient
client = PolarisHubClient(cache_auth_token=False)
client.login()
dataset = client.get_dataset("polaris-demo/freesolv")
dataset
""",
    # 2: results render as an HTML table
    """
benchmark = client.get_benchmark("polaris-demo/freesolv-hydration-free-energy")
train, test = benchmark.get_train_test_split()
results = benchmark.evaluate([float(train.y.mean())] * len(test))
display(benchmark)
results
""",
    # 3: a listing as a DataFrame
    """
from polaris.hub.listing import datasets_frame
frame = datasets_frame(client)
frame
""",
]


def _kernel_spec(folder: Path, env: dict[str, str]) -> Path:
    """A kernel spec running this interpreter, with this worktree's code first on the path."""
    spec = folder / "polaris-test"
    spec.mkdir(parents=True)
    root = Path(__file__).resolve().parents[2]
    paths = [str(root), str(root / "generated"), os.environ.get("PYTHONPATH", "")]
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "polaris test kernel",
        "language": "python",
        "env": {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return folder


def _outputs(cell: Any, kind: str) -> str:
    text = []
    for out in cell.outputs:
        if out.output_type == "stream" and out.name == kind:
            text.append(out.text)
        elif kind in ("text/html", "text/plain") and out.output_type in ("display_data", "execute_result"):
            text.append(out.data.get(kind, ""))
    return "".join(text)


def test_notebook_progress_and_html(local_hub: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    env = {
        **local_hub.env(),
        "POLARIS_USERNAME": "demo-user",
        "POLARIS_PASSWORD": local_hub.users["demo-user"],
        "POLARIS_CACHE_DIR": str(tmp_path / "cache"),
        "POLARIS_PROGRESS": "auto",
    }
    specs = _kernel_spec(tmp_path / "kernels", env)
    manager = KernelManager(kernel_name="polaris-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code.strip()) for code in CELLS])
    NotebookClient(notebook, km=manager, timeout=180, allow_errors=False).execute(cwd=str(tmp_path))

    first, second, third, fourth = notebook.cells
    assert _outputs(first, "stdout").split() == ["True", "notebook"]
    bar = _outputs(first, "stderr")
    assert "download demo.bin" in bar and "100%" in bar and "4.00k/4.00k" in bar

    assert "download table.parquet" in _outputs(second, "stderr")  # the real transfer's bar
    html = _outputs(second, "text/html")
    assert "Dataset polaris-demo/freesolv" in html and "V1" in html and "CC-BY-4.0" in html

    html = _outputs(third, "text/html")
    assert "Benchmark polaris-demo/freesolv-hydration-free-energy" in html
    assert "<table" in html and "mean_absolute_error" in html and "Score" in html

    html = _outputs(fourth, "text/html")
    assert "polaris-demo/freesolv" in html and "size_bytes" in html and "access" in html
