"""Timing of gm.bayes_pool and gm.bayes_model_average for k = 2, 8 and 50 trials.

    .venv/bin/python benchmarks/bench_bayes.py

Data: seeded synthetic SMDs like the book's (v_i ~ U(0.02, 0.2), i.e. about 20-200 participants
per trial; true effects ~ N(-0.3, 0.1^2)), the same for every prior. For each k and each tau prior
the script times, as the best and the median of 15 calls, ``gm.bayes_pool`` (flat mu prior), and
``gm.bayes_model_average`` (mu ~ N(0, 1)), and divides by the time of ``gm.pool(method="REML")``
on the same data. Prints a Markdown table.
"""
import statistics
import time

import numpy as np

import gutmeta as gm

REPEATS = 15
KS = (2, 8, 50)
PRIORS = ("half-normal", "half-cauchy", "rhodes")


def data(k, seed=2026):
    rng = np.random.default_rng(seed + k)
    v = rng.uniform(0.02, 0.2, k)
    y = rng.normal(-0.3, np.sqrt(v + 0.1 ** 2))
    return y, v


def timeit(fn):
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main():
    rows = []
    for k in KS:
        y, v = data(k)
        reml, reml_med = timeit(lambda: gm.pool(y, v, method="REML"))
        rows.append((k, "gm.pool REML (reference)", "-", reml, reml_med, 1.0))
        for prior in PRIORS:
            best, med = timeit(lambda: gm.bayes_pool(y, v, tau_prior=prior))
            rows.append((k, "gm.bayes_pool", prior, best, med, best / reml))
            best, med = timeit(lambda: gm.bayes_model_average(y, v, tau_prior=prior))
            rows.append((k, "gm.bayes_model_average", prior, best, med, best / reml))
    print("| k | function | tau prior | best (ms) | median (ms) | best / REML best |")
    print("|---|---|---|---|---|---|")
    for k, fn, prior, best, med, ratio in rows:
        print(f"| {k} | {fn} | {prior} | {best * 1000:.1f} | {med * 1000:.1f} | {ratio:.1f} |")


if __name__ == "__main__":
    main()
