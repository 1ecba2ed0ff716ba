"""Load and validate the evidence base in ``data/``.

``data/dictionary.csv`` describes every column of every file (type, unit, allowed values,
whether it is required). :func:`load_evidence` checks each file against it, then checks the
rules that span columns and files, and returns typed DataFrames. Any problem raises
:class:`EvidenceError`, whose message names the file, the line, the trial and the column.
The loader only reads; it writes nothing.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FILES = ("trials.csv", "outcomes.csv", "reported_effects.csv", "responders.csv", "risk_of_bias.csv",
         "published_results.csv")
SOURCE_ID = re.compile(r"(PMID:\d+|PMC:PMC\d+|DOI:10\.\S+|NCT\d{8}|IRCT\w+|ChiCTR\w+|ACTRN\d+|UMIN\d+|"
                       r"ISRCTN\d+|CTRI/\S+|https?://\S+)")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "data"


class EvidenceError(ValueError):
    """Invalid evidence files. ``problems`` lists every problem found, as text."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = f"\n(and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more + "\n" + "\n".join(problems[1:11]))


@dataclass(frozen=True, eq=False)  # hashed by identity, so results can be cached per Evidence
class Evidence:
    trials: pd.DataFrame
    outcomes: pd.DataFrame
    reported_effects: pd.DataFrame
    responders: pd.DataFrame
    risk_of_bias: pd.DataFrame
    published: pd.DataFrame
    dictionary: pd.DataFrame
    path: Path


def _where(file, line, row, column):
    trial = row.get("trial_id") or row.get("meta_analysis") or "?"
    label = "meta-analysis" if "meta_analysis" in row and "trial_id" not in row else "trial"
    return f"{file}, line {line} ({label} {trial}), column '{column}'"


def _parse_range(spec: str):
    """``"2-10000"`` -> (2, 10000); ``">0"`` -> (0, inf, strict); ``">=0"``; interval
    notation ``"(0, 1000]"`` or ``"[-1000, 1000]"`` (the upper end is always inclusive)."""
    if not spec:
        return None
    if spec[0] in "([" and spec.endswith("]"):
        lo, hi = (float(x) for x in spec[1:-1].split(","))
        return lo, hi, spec[0] == "("
    if spec.startswith(">="):
        return float(spec[2:]), np.inf, False
    if spec.startswith(">"):
        return float(spec[1:]), np.inf, True
    lo, hi = spec.split("-")
    return float(lo), float(hi), False


def _check_cell(value: str, spec: pd.Series) -> str | None:
    """The problem with one non-empty cell, or None."""
    kind = spec["type"]
    allowed = spec["allowed"]
    if kind == "enum":
        options = allowed.split("|")
        if value not in options:
            return f"'{value}' is not one of {', '.join(options)}"
        return None
    if kind in ("int", "float"):
        try:
            x = float(value)
        except ValueError:
            return f"'{value}' is not a number"
        if not np.isfinite(x):
            return f"'{value}' is not a finite number"
        if kind == "int" and x != int(x):
            return f"'{value}' is not a whole number"
        rng = _parse_range(allowed) if kind != "enum" else None
        if rng:
            lo, hi, strict = rng
            if (x <= lo if strict else x < lo) or x > hi:
                return f"{value} is outside the allowed range {allowed}"
        return None
    if kind == "source":
        if not SOURCE_ID.search(value):
            return (f"'{value[:60]}' names no identifier (PMID:..., PMC:PMC..., DOI:10..., "
                    "a registry id, or the URL of the page)")
    return None


def _validate_file(file: str, frame: pd.DataFrame, spec: pd.DataFrame, problems: list[str]):
    expected = list(spec["column"])
    got = list(frame.columns)
    for col in expected:
        if col not in got:
            problems.append(f"{file}, header, column '{col}': missing")
    for col in got:
        if col not in expected:
            problems.append(f"{file}, header, column '{col}': not in data/dictionary.csv")
    if any(p.startswith(f"{file}, header") for p in problems):
        return
    specs = spec.set_index("column")
    by_col = {col: specs.loc[col].to_dict() for col in expected}  # plain dicts: one lookup per cell
    for i, row in enumerate(frame.to_dict("records")):
        line = i + 2
        for col in expected:
            s = by_col[col]
            value = row[col].strip()
            if not value:
                if s["required"] == "yes":
                    problems.append(f"{_where(file, line, row, col)}: is empty but required")
                continue
            problem = _check_cell(value, s)
            if problem:
                problems.append(f"{_where(file, line, row, col)}: {problem}")
    keys = [c for c in expected if specs.loc[c, "type"] == "key"]
    for col in keys:
        dup = frame[col][frame[col].duplicated()]
        for i in dup.index:
            problems.append(f"{_where(file, i + 2, frame.loc[i], col)}: duplicate key '{frame.loc[i, col]}'")


def _num(s: str) -> float:
    return float(s) if s.strip() else np.nan


def _row_rules(name, frame, problems, trial_ids):
    """Rules that involve several columns or files."""
    for i, row in frame.iterrows():
        line = i + 2
        where = lambda col: _where(name, line, row, col)  # noqa: E731
        if "trial_id" in row and name != "trials.csv" and row["trial_id"] and row["trial_id"] not in trial_ids:
            problems.append(f"{where('trial_id')}: trial '{row['trial_id']}' is not in trials.csv")
        if name == "trials.csv" and row["eligible"] == "no":
            for col in ("exclusion_code", "exclusion_reason"):
                if not row[col].strip():
                    problems.append(f"{where(col)}: required when eligible = no")
        if name == "outcomes.csv":
            kind = row["spread_kind"]
            if kind in ("SD", "SE", "unlabelled") and not row["spread"].strip():
                problems.append(f"{where('spread')}: empty but spread_kind is {kind}")
            if kind in ("CI95", "IQR", "range"):
                lo, hi = _num(row["spread_low"]), _num(row["spread_high"])
                if np.isnan(lo) or np.isnan(hi):
                    problems.append(f"{where('spread_low')}: spread_low and spread_high are required "
                                    f"when spread_kind is {kind}")
                elif lo >= hi:
                    problems.append(f"{where('spread_low')}: {lo:g} is not below spread_high {hi:g}")
            if not kind and (row["spread"].strip() or row["spread_low"].strip()):
                problems.append(f"{where('spread_kind')}: a dispersion value is given without its kind")
        if name == "responders.csv":
            events, n = _num(row["events"]), _num(row["n"])
            if not np.isnan(n) and events > n:
                problems.append(f"{where('events')}: {row['events']} responders in an arm of {row['n']}")
        if name == "reported_effects.csv":
            value = _num(row["value"])
            if np.isnan(value) and row["statistic"] != "ns":
                problems.append(f"{where('value')}: is empty but required for statistic {row['statistic']}")
            if row["statistic"] == "d_range" and np.isnan(_num(row["value_high"])):
                problems.append(f"{where('value_high')}: is empty but required for statistic d_range")
            if row["statistic"] == "p_bound" and not (0 < value <= 1):
                problems.append(f"{where('value')}: a p bound must be in (0, 1] (got {row['value']})")
            if row["statistic"] == "p" and not (0 < value <= 1):
                problems.append(f"{where('value')}: a p-value must be in (0, 1] (got {row['value']})")
            if row["statistic"] == "F" and value < 0:
                problems.append(f"{where('value')}: an F statistic cannot be negative")
            if row["use"] == "no" and not row["use_reason"].strip():
                problems.append(f"{where('use_reason')}: required when use = no")
        if name in ("reported_effects.csv", "published_results.csv"):
            lo, hi = _num(row["ci_low"]), _num(row["ci_high"])
            if not np.isnan(lo) and not np.isnan(hi) and lo > hi:
                problems.append(f"{where('ci_low')}: {lo:g} is above ci_high {hi:g}")


KEYS = {"outcomes.csv": ["trial_id", "outcome", "scale", "timepoint", "week", "arm", "source"],
        "responders.csv": ["trial_id", "outcome", "scale", "definition", "arm"],
        "risk_of_bias.csv": ["trial_id", "domain"]}


def _duplicates(name, frame, problems):
    cols = KEYS.get(name)
    if not cols:
        return
    dup = frame[frame.duplicated(cols, keep="first")]
    for i, row in dup.iterrows():
        key = ", ".join(f"{c}={row[c]}" for c in cols)
        problems.append(f"{_where(name, i + 2, row, cols[-1])}: duplicate row ({key})")


def _typed(frame: pd.DataFrame, spec: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for _, s in spec.iterrows():
        col = s["column"]
        if s["type"] in ("int", "float"):
            out[col] = pd.to_numeric(out[col].replace("", np.nan), errors="raise").astype(float)
    return out


def _read_csv(file: Path) -> pd.DataFrame:
    """Read one CSV file as text cells, or raise :class:`EvidenceError` naming the file and line.

    The file must be UTF-8 (a byte-order mark is allowed), non-empty, with a header, balanced
    quotes and the header's number of fields on every line. Blank lines are skipped (as
    pandas does), so the line numbers of later messages assume none.
    """
    name = file.name
    data = file.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise EvidenceError([f"{name}, line {line}: not valid UTF-8 (byte {data[err.start]:#04x} at "
                             f"offset {err.start}); save the file as UTF-8"]) from None
    if not text.strip():
        raise EvidenceError([f"{name}: the file is empty (no header line)"])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise EvidenceError([f"{name}, line {start}: malformed CSV ({err}); the record that "
                                 "starts here has an unbalanced double quote"]) from None
        if row:
            rows.append((start, row))
    header = rows[0][1]
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise EvidenceError([f"{name}, line {line}: {len(row)} fields, but the header has "
                                 f"{len(header)} (an unquoted comma or a missing field?)"])
    return pd.DataFrame([r for _, r in rows[1:]], columns=header, dtype=str)


def load_evidence(path=None) -> Evidence:
    """Read, validate and type the five evidence files.

    Parameters
    ----------
    path : str or Path, optional
        Folder holding the CSV files and ``dictionary.csv`` (default: the repository's ``data/``).

    Raises
    ------
    EvidenceError
        Listing every problem, each naming the file, line, trial and column.
    """
    path = Path(path) if path is not None else DEFAULT_DIR
    dictionary = _read_csv(path / "dictionary.csv")
    problems: list[str] = []
    raw = {}
    for name in FILES:
        file = path / name
        if not file.exists():
            problems.append(f"{name}: file is missing")
            continue
        frame = _read_csv(file)
        raw[name] = frame
        _validate_file(name, frame, dictionary[dictionary.file == name], problems)
    if problems:
        raise EvidenceError(problems)
    trial_ids = set(raw["trials.csv"]["trial_id"])
    for name, frame in raw.items():
        _row_rules(name, frame, problems, trial_ids)
        _duplicates(name, frame, problems)
    if problems:
        raise EvidenceError(problems)
    typed = {name: _typed(frame, dictionary[dictionary.file == name]) for name, frame in raw.items()}
    return Evidence(trials=typed["trials.csv"], outcomes=typed["outcomes.csv"],
                    reported_effects=typed["reported_effects.csv"], responders=typed["responders.csv"],
                    risk_of_bias=typed["risk_of_bias.csv"],
                    published=typed["published_results.csv"], dictionary=dictionary, path=path)
