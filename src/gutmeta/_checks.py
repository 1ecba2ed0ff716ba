"""Input checks shared by the statistical modules.

Every check raises ``ValueError`` whose message names the study (by label, or by
position when no labels are given) and the field, so that a bad row can be found.
"""
from __future__ import annotations

import numpy as np

METHODS = ("EE", "FE", "DL", "REML", "ML", "PM", "SJ", "HE")
TESTS = ("z", "knha")


def labels_for(k: int, labels=None) -> list[str]:
    """Study labels, or ``study 1..k`` when none are given."""
    if labels is None:
        return [f"study {i + 1}" for i in range(k)]
    labels = [str(x) for x in labels]
    if len(labels) != k:
        raise ValueError(f"labels has {len(labels)} entries but there are {k} studies")
    return labels


def as_vector(values, field: str, labels=None) -> np.ndarray:
    """A 1-d float array (a scalar becomes length 1).

    A value that is not a number (for example a p-value printed as ``"<0.05"``) raises a
    ``ValueError`` naming the study (its label, or its position) and the field.
    """
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        items = list(np.atleast_1d(np.asarray(values, dtype=object)))
        for i, item in enumerate(items):
            try:
                float(item)
            except (TypeError, ValueError):
                name = str(labels[i]) if labels is not None and i < len(labels) else f"study {i + 1}"
                raise ValueError(f"{name}: field '{field}' must be a number (got {item!r})") from None
        raise
    if arr.ndim != 1:
        raise ValueError(f"field '{field}' must be one-dimensional")
    return arr


def same_length(**fields) -> int:
    """Check that all named vectors have one length and return it."""
    lengths = {name: len(v) for name, v in fields.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{n}={m}" for n, m in lengths.items())
        raise ValueError(f"mismatched lengths: {desc}")
    return next(iter(lengths.values()))


def finite(arr: np.ndarray, field: str, labels: list[str]) -> None:
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = bad[0]
        raise ValueError(f"{labels[i]}: field '{field}' is missing or not finite (got {float(arr[i])!r})")


def positive(arr: np.ndarray, field: str, labels: list[str], *, strict: bool = True) -> None:
    finite(arr, field, labels)
    bad = np.flatnonzero(arr <= 0) if strict else np.flatnonzero(arr < 0)
    if bad.size:
        i = bad[0]
        rel = "> 0" if strict else ">= 0"
        raise ValueError(f"{labels[i]}: field '{field}' must be {rel} (got {float(arr[i])!r})")


def at_least(arr: np.ndarray, minimum: float, field: str, labels: list[str]) -> None:
    finite(arr, field, labels)
    bad = np.flatnonzero(arr < minimum)
    if bad.size:
        i = bad[0]
        raise ValueError(f"{labels[i]}: field '{field}' must be >= {minimum:g} (got {float(arr[i])!r})")


def method_name(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    return "EE" if method == "FE" else method


def test_name(test: str) -> str:
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; allowed: {', '.join(TESTS)}")
    return test


def level_value(level: float) -> float:
    if not (0 < float(level) < 1):
        raise ValueError(f"level must be between 0 and 1 (got {level!r})")
    return float(level)


def effects(yi, vi, labels=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Validate a pair of effect sizes and sampling variances."""
    y = as_vector(yi, "yi", labels)
    v = as_vector(vi, "vi", labels)
    k = same_length(yi=y, vi=v)
    if k == 0:
        raise ValueError("no studies: yi and vi are empty")
    labs = labels_for(k, labels)
    finite(y, "yi", labs)
    positive(v, "vi", labs)
    return y, v, labs
