"""GOSH over every subset of a k = 19 dataset: gutmeta (EE, REML) beside metafor.

    python benchmarks/bench_gosh.py            # or: make bench

Times, in one run on this machine, gm.gosh over all 2^19 - 1 = 524,287 subsets of
metafor's dat.raudenbush1985 (tests/reference/datasets/raudenbush1985.csv) with the
equal-effect model and with REML, and, when Rscript with metafor is installed, metafor's
gosh() with EE over all subsets and with REML over a random sample of subsets, extrapolated
to all of them (the full REML run takes about half an hour). Prints a table with ratios.
"""
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd

import gutmeta as gm

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "reference" / "datasets" / "raudenbush1985.csv"
R_SAMPLE = 5_000

R_SCRIPT = f"""
suppressMessages(library(metafor))
d <- read.csv("{DATA}")
t_ee <- system.time(g1 <- gosh(rma(yi, vi, data = d, method = "EE"), progbar = FALSE))[["elapsed"]]
t_re <- system.time(g2 <- gosh(rma(yi, vi, data = d, method = "REML"), subsets = {R_SAMPLE},
                               progbar = FALSE))[["elapsed"]]
cat(sprintf("%.6f %d %.6f %d\\n", t_ee, nrow(g1$res), t_re, nrow(g2$res)))
"""


def time_python(method, repeats=3):
    d = pd.read_csv(DATA)
    best, n = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        g = gm.gosh(d.yi, d.vi, method=method)
        best = min(best, time.perf_counter() - start)
        n = len(g)
    return best, n, bool(g["converged"].all())


def time_r():
    if shutil.which("Rscript") is None:
        return None
    out = subprocess.run(["Rscript", "-e", R_SCRIPT], capture_output=True, text=True, check=True)
    t_ee, n_ee, t_re, n_re = out.stdout.split()
    return float(t_ee), int(n_ee), float(t_re), int(n_re)


def main():
    rows = []
    for method in ("EE", "REML"):
        t, n, ok = time_python(method)
        rows.append({"engine": "gutmeta (numpy, vectorised)", "method": method, "subsets": n,
                     "seconds": t, "all converged": ok})
    r = time_r()
    if r:
        t_ee, n_ee, t_re, n_re = r
        rows.append({"engine": "metafor gosh()", "method": "EE", "subsets": n_ee, "seconds": t_ee,
                     "all converged": True})
        rows.append({"engine": f"metafor gosh() (sampled {n_re}, extrapolated)", "method": "REML",
                     "subsets": 2**19 - 1, "seconds": t_re * (2**19 - 1) / n_re, "all converged": True})
    table = pd.DataFrame(rows)
    if r:
        py = table[table.engine.str.startswith("gutmeta")].set_index("method")["seconds"]
        table["metafor / gutmeta"] = [None, None, t_ee / py["EE"], t_re * (2**19 - 1) / n_re / py["REML"]]
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
