"""Input checks shared by the statistical modules.

Every check raises ``ValueError`` whose message names the study (by label, or by
position when no labels are given) and the field, so that a bad row can be found.
"""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

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


def _is_number(item) -> bool:
    """A real number that is not a boolean (numpy scalars included)."""
    if isinstance(item, (bool, np.bool_)):
        return False
    return isinstance(item, (numbers.Real, np.integer, np.floating))


def _is_missing(item) -> bool:
    try:
        return item is None or item is pd.NA or item is pd.NaT or bool(pd.isna(item))
    except (TypeError, ValueError):
        return False


def as_vector(values, field: str, labels=None) -> np.ndarray:
    """A 1-d float array (a scalar becomes length 1).

    Only real numbers are accepted: booleans, complex numbers, dates and text (even text
    that looks like a number, such as ``"0.5"``, or a p-value printed as ``"<0.05"``) raise a
    ``ValueError`` naming the study (its label, or its position) and the field. Missing
    values (None, NaN, ``pd.NA``) become NaN, for the caller's "missing" check.
    """
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy(dtype=object) if values.dtype.kind not in "iuf" else values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"field '{field}' must be one-dimensional")

    def name(i):
        return str(labels[i]) if labels is not None and i < len(labels) else f"study {i + 1}"

    if arr.dtype.kind in "iuf":
        return arr.astype(float)
    out = np.empty(len(arr))
    for i, item in enumerate(arr):
        if isinstance(item, (np.datetime64, np.timedelta64)):
            raise ValueError(f"{name(i)}: field '{field}' must be a number (got {str(item)!r})")
        if isinstance(item, np.generic):
            item = item.item()  # numpy scalars print as plain Python values in messages
        if _is_number(item):
            out[i] = float(item)
        elif _is_missing(item):
            out[i] = np.nan
        else:
            raise ValueError(f"{name(i)}: field '{field}' must be a number (got {item!r})")
    return out


def index_of(obj):
    """The pandas index of a Series/DataFrame, else None."""
    return obj.index if isinstance(obj, (pd.Series, pd.DataFrame)) else None


def align(obj, index, field: str):
    """Put a pandas object in the order of ``index`` (the effects' index).

    Objects without an index, or when ``index`` is None, are taken by position. An object
    whose index holds the same unique labels in another order is reordered; any other
    mismatch is refused, so that values are never paired with the wrong study.
    """
    own = index_of(obj)
    if own is None or index is None or own.equals(index):
        return obj
    if own.is_unique and index.is_unique and len(own) == len(index) and set(own) == set(index):
        return obj.loc[index]
    raise ValueError(f"the index of '{field}' does not match the index of 'yi' (the values would "
                     "be paired with the wrong studies); pass them with the same index, or as "
                     "plain arrays")


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
    """Validate a pair of effect sizes and sampling variances.

    Two pandas Series are paired by their index (see :func:`align`), not by position.
    """
    vi = align(vi, index_of(yi), "vi")
    if labels is not None:
        labels = align(labels, index_of(yi), "labels")
    y = as_vector(yi, "yi", labels)
    v = as_vector(vi, "vi", labels)
    k = same_length(yi=y, vi=v)
    if k == 0:
        raise ValueError("no studies: yi and vi are empty")
    labs = labels_for(k, labels)
    finite(y, "yi", labs)
    positive(v, "vi", labs)
    return y, v, labs


def group_labels(groups, labs: list[str], index=None) -> np.ndarray:
    """Subgroup labels as text, one per study.

    A missing label (None, NaN, ``pd.NA``, empty text) raises a ``ValueError`` naming the
    study. Numbers are labelled by value, so ``1``, ``1.0`` and ``np.int64(1)`` are one group
    (``"1"``); other labels by their text.
    """
    groups = align(groups, index, "groups")
    if isinstance(groups, (pd.Series, pd.Index)):
        groups = groups.to_numpy(dtype=object)
    g = np.asarray(groups, dtype=object)
    if g.ndim != 1:
        raise ValueError("groups must be one-dimensional")
    same_length(yi=labs, groups=g)
    out = []
    for i, val in enumerate(g):
        if _is_missing(val) or (isinstance(val, str) and not val.strip()):
            raise ValueError(f"{labs[i]}: field 'group' is missing (got {val!r})")
        if _is_number(val):
            f = float(val)
            out.append(str(int(f)) if f.is_integer() else repr(f))
        else:
            out.append(str(val))
    return np.array(out, dtype=object).astype(str)
