"""Shared fixtures: the metafor reference values and the one tolerance table of the suite."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REF_DIR = Path(__file__).parent / "reference"

# One tolerance table (metafor's tests/testthat/settings.r in spirit).
# Closed-form quantities: 1e-10 relative. Iterative ones (REML, ML, PM, Q-profile; R run with
# control=list(tol=1e-12, threshold=1e-12)): 1e-6 relative. Both with an absolute floor for
# values that are (near) zero.
CLOSED = dict(rtol=1e-10, atol=1e-12)
ITERATIVE = dict(rtol=1e-6, atol=1e-9)
ITERATIVE_METHODS = {"REML", "ML", "PM"}


def tol_for(method: str) -> dict:
    return ITERATIVE if method in ITERATIVE_METHODS else CLOSED


@pytest.fixture(scope="session")
def reference() -> pd.DataFrame:
    ref = pd.read_csv(REF_DIR / "metafor_reference.csv", keep_default_na=False, dtype=str)
    ref = ref[ref["dataset"] != "_meta"].copy()
    ref["value"] = ref["value"].astype(float)
    ref["index"] = pd.to_numeric(ref["index"], errors="coerce")
    return ref


@pytest.fixture(scope="session")
def ref_values(reference):
    def get(dataset, analysis, method, test, quantity):
        sel = reference[(reference.dataset == dataset) & (reference.analysis == analysis)
                        & (reference.method == method) & (reference.test == test)
                        & (reference.quantity == quantity)]
        if sel.empty:
            raise KeyError((dataset, analysis, method, test, quantity))
        return sel.sort_values("index")["value"].to_numpy()
    return get


@pytest.fixture(scope="session")
def dataset():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = pd.read_csv(REF_DIR / "datasets" / f"{name}.csv")
        return cache[name]
    return get


def assert_close(actual, expected, tol, what=""):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               err_msg=what, **tol)
