"""Execute every chapter in place, so that the committed notebooks carry current outputs.

    python tools/execute_chapters.py [chapters/name.ipynb ...]

nbval (``make test``) re-executes the chapters and compares with these stored outputs.
"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    # keep diffs small: no execution timestamps, no widget state (its model ids are random and
    # widgets need a kernel anyway), no stored output for cells nbval is told to ignore
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and (cell.source.startswith("# NBVAL_IGNORE_OUTPUT")
                                         or "nbval-ignore-output" in tags):
            cell.outputs = []
    nbformat.write(nb, path)
    return time.perf_counter() - start


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted((ROOT / "chapters").glob("*.ipynb"))
    for p in paths:
        print(f"{p.name}: {execute(p):.1f} s", flush=True)
