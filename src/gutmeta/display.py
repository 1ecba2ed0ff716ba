"""What the reader sees: tables as a journal prints them, and one rule for displays that need k.

Two table helpers, both returning an object that shows as a styled HTML table (book and JupyterLab)
and as a plain, stable text table (``text/plain``, which nbval compares):

``show_table(frame, ...)``
    A static table: no index, an en dash for missing values, integer-valued columns as integers,
    effect sizes with 2 decimals and p-values with 3, ``ci_low``/``ci_high`` merged into one
    "95% CI" column, readable headers, long text wrapped. For every table of results.
``interactive_table(frame, ...)``
    The same formatting in a searchable, sortable table (itables/DataTables) whose JavaScript is
    bundled into the page on first use in a kernel (``connected=False``): it works in the static
    HTML with no network, and in JupyterLab. For the long evidence tables (trials, coverage,
    published results).

Typical chapter use (one call, inside a ``remove-input`` or ``hide-input`` cell)::

    from gutmeta.display import show_table, interactive_table, can_show
    show_table(fit.to_frame(), columns=["study", "estimate", "ci_low", "ci_high", "pvalue"],
               caption="Table 1. Pooled effect on depression")
    interactive_table(ev.trials, columns=["trial_id", "year", "country", "intervention"],
                      headers={"trial_id": "Trial"})

One rule for displays that need more trials (``MIN_K``, ``can_show``)::

    verdict = can_show("funnel", k)
    if verdict:
        fig = gm.plots.funnel_plot(...)
    else:
        display(verdict)   # shows the sentence that says why there is no funnel plot

The explorers (:mod:`gutmeta.explore`) use the same ``can_show``.

Numbers in prose (``prose``, ``prose_text``): ``prose(pool_k=f"{fit.k}", pool_ci=fmt_ci(lo, hi))``
in a code cell tagged ``remove-input`` (not ``remove-cell``: in inline execution a removed cell
runs only when the next shown code cell does, after the Markdown below it was evaluated) placed
*above* the Markdown that uses ``{eval}`pool_k```; renders the same in the book
(``execute_notebooks: inline``) and in JupyterLab (jupyterlab-myst).
"""
from __future__ import annotations

import hashlib
import html
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .report import MINUS

NA = "\u2013"  # en dash

#: Readable headers for the package's usual column names; ``headers=`` adds to or overrides them.
HEADERS = {
    "study": "Study", "trial_id": "Trial", "comparison": "Comparison", "k": "k", "n": "n",
    "estimate": "Estimate", "se": "SE", "yi": "g", "vi": "Variance", "sei": "SE",
    "pvalue": "p", "p_value": "p", "q_pvalue": "p (Q)", "statistic": "z",
    "tau2": "\u03c4\u00b2", "tau": "\u03c4", "i2": "I\u00b2 (%)", "h2": "H\u00b2", "q": "Q", "q_df": "df",
    "weight": "Weight (%)", "year": "Year", "group": "Subgroup", "method": "Estimator",
    "n_treatment": "n (treatment)", "n_control": "n (control)",
}

#: Decimals by column name when ``digits=`` does not say: effect sizes 2, p-values 3.
DIGITS = {"pvalue": 3, "p_value": 3, "q_pvalue": 3, "p": 3, "vi": 3, "tau2": 3, "i2": 1, "weight": 1}
_P_COLUMNS = {"pvalue", "p_value", "q_pvalue", "p"}
#: Columns that are never shown as integers even when every value happens to be whole.
_ALWAYS_DECIMAL = {"estimate", "se", "yi", "vi", "sei", "ci_low", "ci_high", "pi_low", "pi_high",
                   "tau2", "tau", "i2", "h2", "q", "statistic", *_P_COLUMNS}
#: ``ci="auto"`` merges these pairs when both columns are present.
CI_PAIRS = {"95% CI": ("ci_low", "ci_high"), "95% PI": ("pi_low", "pi_high")}


def _num(x: float, digits: int, minus: str) -> str:
    s = f"{float(x):.{digits}f}"
    if s.startswith("-"):
        s = s[1:] if float(s) == 0 else minus + s[1:]
    return s


def _missing(x) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(isinstance(x, (float, np.floating)) and math.isnan(x))
    except TypeError:
        return False


def _text(v, minus: str) -> str:
    """A cell of a text (object) column; a stray float reads as an integer when it is whole."""
    if isinstance(v, (float, np.floating)):
        return _num(v, 0 if float(v).is_integer() else 2, minus)
    return str(v)


def _is_integral(col: pd.Series) -> bool:
    vals = pd.to_numeric(col, errors="coerce").dropna()
    return len(vals) > 0 and bool(np.all(np.isfinite(vals)) and np.all(vals == np.round(vals)))


def _normalise_ci(ci, frame) -> dict:
    if ci is None or ci is False:
        return {}
    if isinstance(ci, str):
        if ci != "auto":
            raise ValueError(f"ci: expected 'auto', a (low, high) pair, a list of pairs or a dict, got {ci!r}")
        return {h: p for h, p in CI_PAIRS.items() if p[0] in frame.columns and p[1] in frame.columns}
    if isinstance(ci, Mapping):
        return dict(ci)
    if isinstance(ci, tuple) and len(ci) == 2 and all(isinstance(c, str) for c in ci):
        ci = [ci]
    out = {}
    for i, pair in enumerate(ci):
        low, high = pair
        out["95% CI" if i == 0 else f"95% CI ({low})"] = (low, high)
    return out


def format_frame(frame: pd.DataFrame, *, columns: Sequence[str] | None = None,
                 headers: Mapping[str, str] | None = None, digits: int | Mapping[str, int] | None = None,
                 ci="auto", na: str = NA, minus: str = MINUS) -> tuple[pd.DataFrame, list[str]]:
    """The table as text cells, ready to show; and the list of numeric (right-aligned) headers.

    Rules, in order: ``ci`` pairs become one text column "[low, high]" in the place of the low
    column (a missing bound gives ``na``); ``columns`` picks and orders the columns (names of the
    *input* frame; a merged pair is named by its low column); numbers are rounded to ``digits``
    (an int for all, or a dict by column), else :data:`DIGITS` by name, else integers when every
    value is whole, else 2 decimals; p-values below 0.001 read "<0.001"; negative numbers get a
    typographic minus (``minus``); missing values read ``na``; headers come from ``headers``,
    then :data:`HEADERS`, else the name with underscores as spaces.
    """
    if not isinstance(frame, pd.DataFrame):
        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        else:
            raise ValueError(f"show_table needs a pandas DataFrame, got {type(frame).__name__}")
    frame = frame.reset_index(drop=True)
    pairs = _normalise_ci(ci, frame)
    for low, high in pairs.values():
        for c in (low, high):
            if c not in frame.columns:
                raise ValueError(f"ci: column {c!r} is not in the table (columns: {list(frame.columns)})")
    headers = {**HEADERS, **(headers or {})}
    merged_low = {low: (h, high) for h, (low, high) in pairs.items()}
    merged_high = {high for _, high in pairs.values()}
    if columns is None:
        columns = [c for c in frame.columns if c not in merged_high]
    else:
        columns = list(columns)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"columns {missing} are not in the table (columns: {list(frame.columns)})")

    def decimals(name, col):
        if isinstance(digits, Mapping) and name in digits:
            return digits[name]
        if isinstance(digits, int) and not isinstance(digits, bool):
            return digits
        if name in DIGITS:
            return DIGITS[name]
        if name not in _ALWAYS_DECIMAL and _is_integral(col):
            return 0
        return 2

    out, numeric = {}, []
    for name in columns:
        col = frame[name]
        if name in merged_high:                       # shown inside its pair's "[low, high]" column
            continue
        if name in merged_low:
            header, high = merged_low[name]
            d = decimals(name, col)
            cells = [na if _missing(lo) or _missing(hi) else f"[{_num(lo, d, minus)}, {_num(hi, d, minus)}]"
                     for lo, hi in zip(col, frame[high])]
            out[header] = cells
            numeric.append(header)
            continue
        header = headers.get(name, str(name).replace("_", " "))
        if pd.api.types.is_bool_dtype(col):
            cells = ["yes" if v else "no" for v in col]
        elif pd.api.types.is_numeric_dtype(col):
            d = decimals(name, col)
            cells = []
            for v in col:
                if _missing(v):
                    cells.append(na)
                elif name in _P_COLUMNS and 0 <= v < 10 ** -d:
                    cells.append(f"<{10 ** -d:.{d}f}")
                else:
                    cells.append(_num(v, d, minus))
            numeric.append(header)
        else:
            cells = [na if _missing(v) or (isinstance(v, str) and v.strip() == "") else _text(v, minus) for v in col]
        if header in out:
            raise ValueError(f"two columns would both be headed {header!r}; pass headers= to rename one")
        out[header] = cells
    return pd.DataFrame(out, columns=list(out)), numeric


def _text_table(cells: pd.DataFrame, numeric: Sequence[str], caption: str | None) -> str:
    """A plain, deterministic text rendering (text/plain): aligned columns, no index."""
    cols = list(cells.columns)
    widths = [max([len(str(c))] + [len(v) for v in cells[c]]) for c in cols]

    def row(values):
        parts = [v.rjust(w) if c in numeric else v.ljust(w) for c, v, w in zip(cols, values, widths)]
        return "  ".join(parts).rstrip()

    lines = [caption] if caption else []
    lines.append(row([str(c) for c in cols]))
    lines += [row(list(r)) for r in cells.itertuples(index=False)]
    return "\n".join(lines)


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:10]
    return f"{prefix}{digest}"


class Table:
    """A formatted table: HTML for people (``_repr_html_``), plain text for nbval (``__repr__``).

    Attributes: ``cells`` (the DataFrame of text cells actually shown), ``styler`` (the pandas
    Styler behind the HTML, for further styling), ``caption``.
    """

    def __init__(self, cells: pd.DataFrame, numeric: Sequence[str], *, caption=None, wrap=40,
                 empty="No rows to show."):
        self.cells, self.numeric, self.caption, self.wrap, self.empty = cells, list(numeric), caption, wrap, empty
        uuid = _stable_id("gm", cells.to_csv(index=False), str(caption))
        sty = cells.style.hide(axis="index").set_uuid(uuid)
        if caption:
            sty = sty.set_caption(caption)
        styles = [
            {"selector": "", "props": "border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em;"},
            {"selector": "th", "props": "text-align: left; vertical-align: bottom; padding: 0.25em 0.6em;"
                                        " border-bottom: 1px solid #888; white-space: normal;"},
            {"selector": "td", "props": "vertical-align: top; padding: 0.2em 0.6em;"},
            {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: 600;"},
        ]
        sty = sty.set_table_styles(styles)
        if self.numeric:
            sty = sty.set_properties(subset=self.numeric, **{"text-align": "right", "white-space": "nowrap"})
        text_cols = [c for c in cells.columns if c not in self.numeric]
        if text_cols and wrap:
            long_cols = [c for c in text_cols if cells[c].map(len).max() > wrap]
            if long_cols:
                sty = sty.set_properties(subset=long_cols, **{
                    "white-space": "normal", "min-width": "10em", "max-width": f"{wrap}em",
                    "overflow-wrap": "break-word"})
        self.styler = sty

    def _repr_html_(self) -> str:
        if self.cells.empty:
            cap = f"<p><strong>{html.escape(self.caption)}</strong></p>" if self.caption else ""
            return f'{cap}<p class="gm-empty-table">{html.escape(self.empty)}</p>'
        return self.styler.to_html()

    def __repr__(self) -> str:
        if self.cells.empty:
            return "\n".join(filter(None, [self.caption, self.empty]))
        return _text_table(self.cells, self.numeric, self.caption)

    def to_html(self) -> str:
        return self._repr_html_()


def show_table(frame: pd.DataFrame, *, columns: Sequence[str] | None = None,
               headers: Mapping[str, str] | None = None, digits: int | Mapping[str, int] | None = None,
               ci="auto", wrap: int | None = 40, na: str = NA, caption: str | None = None,
               empty: str = "No rows to show.") -> Table:
    """A results table as a journal prints it (static HTML table + stable plain text).

    Parameters
    ----------
    frame : DataFrame
        The data; its index is dropped (make a column of it first if it carries information).
    columns : list of str, optional
        The columns to show, in order (key columns first). Default: all. A merged CI pair is
        named by its low column (``"ci_low"``).
    headers : dict, optional
        Readable names, e.g. ``{"n_t": "n (probiotic)"}``; added to :data:`HEADERS`.
    digits : int or dict, optional
        Decimals for all numeric columns, or per column. Default: :data:`DIGITS` by name
        (p 3, tau2 3, I2 1), integers for integer-valued columns, else 2 (effect sizes).
    ci : "auto", (low, high), list of pairs, dict {header: (low, high)} or None
        Pairs merged into one text column "[low, high]". ``"auto"`` merges ``ci_low/ci_high``
        ("95% CI") and ``pi_low/pi_high`` ("95% PI") when present.
    wrap : int or None
        Text columns with cells longer than ``wrap`` characters wrap at ``wrap`` em
        (CSS ``white-space: normal; max-width``). None: no limit.
    na : str
        What a missing value shows (default an en dash).
    caption : str, optional
        A caption above the table.
    empty : str
        The sentence shown instead of a table with no rows.

    Returns
    -------
    Table
        Displays as HTML (pandas Styler: no index, numbers right-aligned) in the book and in
        JupyterLab, and as an aligned plain-text table in ``text/plain`` (what nbval compares;
        the HTML's element ids are a hash of the content, so it is stable too).

    Examples
    --------
    >>> t = show_table(pd.DataFrame({"study": ["A"], "n": [19.0], "estimate": [-0.5],
    ...                              "ci_low": [-0.9], "ci_high": [-0.1], "pvalue": [0.0123]}))
    >>> print(repr(t))
    Study   n  Estimate          95% CI      p
    A      19     −0.50  [−0.90, −0.10]  0.012
    """
    cells, numeric = format_frame(frame, columns=columns, headers=headers, digits=digits, ci=ci, na=na)
    return Table(cells, numeric, caption=caption, wrap=wrap, empty=empty)


_ITABLES_JS_SENT = False  # set once the DataTables bundle has been emitted in this kernel


class InteractiveTable(Table):
    """A searchable, sortable table (itables, offline). Plain text as :class:`Table`.

    The first interactive table rendered in a kernel carries the DataTables bundle (about 1 MB,
    base64) so the page needs no network; later ones on the same page reuse it. Where scripts
    do not run, itables' static preview (a plain HTML table) shows instead.
    """

    def __init__(self, cells, numeric, *, caption=None, wrap=40, empty="No rows to show.",
                 page_length=10, include_js=None, frame_for_js=None):
        super().__init__(cells, numeric, caption=caption, wrap=wrap, empty=empty)
        self.page_length = page_length
        self.include_js = include_js
        self._frame_for_js = cells if frame_for_js is None else frame_for_js
        self._html = None

    def _repr_html_(self) -> str:
        global _ITABLES_JS_SENT
        if self.cells.empty:
            return super()._repr_html_()
        if self._html is None:
            from itables.javascript import generate_init_offline_itables_html, to_html_datatable
            from itables import options as itables_options

            with_js = (not _ITABLES_JS_SENT) if self.include_js is None else self.include_js
            table_id = _stable_id("gmdt_", self._frame_for_js.to_csv(index=False), str(self.caption))
            n = len(self._frame_for_js)
            cls = "display compact nowrap" if not self.wrap else "display compact"
            many = n > self.page_length
            paging = {"pageLength": self.page_length,
                      "lengthMenu": sorted({self.page_length, 25, 50, 100})} if many else {}
            # the search box always; the page controls only when there is more than one page
            paging["layout"] = {"topStart": "pageLength" if many else None, "topEnd": "search",
                                "bottomStart": "info" if many else None,
                                "bottomEnd": "paging" if many else None}
            body = to_html_datatable(
                self._frame_for_js, caption=self.caption, table_id=table_id, connected=False,
                showIndex=False, paging=many, classes=cls, **paging,
                style="table-layout:auto;width:100%;margin:0;caption-side:top",
                autoWidth=False, display_logo_when_loading=False,
            )
            js = generate_init_offline_itables_html(itables_options.dt_bundle) if with_js else ""
            if with_js:
                _ITABLES_JS_SENT = True
            wrap_css = ""
            if self.wrap:
                wrap_css = (f"<style>#{table_id} td {{white-space: normal; max-width: {self.wrap}em;"
                            f" overflow-wrap: break-word; vertical-align: top}}</style>")
            self._html = js + wrap_css + body
        return self._html


def interactive_table(frame: pd.DataFrame, *, columns: Sequence[str] | None = None,
                      headers: Mapping[str, str] | None = None,
                      digits: int | Mapping[str, int] | None = None, ci="auto", wrap: int | None = 40,
                      na: str = "", caption: str | None = None, page_length: int = 10,
                      include_js: bool | None = None, empty: str = "No rows to show.") -> InteractiveTable:
    """A long evidence table, searchable and sortable, working offline in the static HTML.

    Same formatting options as :func:`show_table`. Differences: missing values are blank by
    default (``na=""``: DataTables sorts blanks with numbers) and negative numbers use an ASCII
    minus so that numeric columns sort as numbers; the search box filters rows; ``page_length``
    rows per page (paging only when there are more rows).

    ``include_js``: None (default) bundles the DataTables JavaScript with the first interactive
    table rendered in the kernel, i.e. once per chapter; True/False forces it.

    Uses itables (pinned in requirements.txt) with ``connected=False``: no request to a CDN.
    """
    cells, numeric = format_frame(frame, columns=columns, headers=headers, digits=digits, ci=ci, na=na,
                                  minus="-")
    return InteractiveTable(cells, numeric, caption=caption, wrap=wrap, empty=empty,
                            page_length=page_length, include_js=include_js)


# --------------------------------------------------------------------------------------------
# Numbers in prose: MyST {eval} roles
# --------------------------------------------------------------------------------------------

_PROSE_FALLBACK: dict = {}


def prose_text(name: str, text: str) -> None:
    """Make ``{eval}`name``` in the chapter's Markdown show ``text``, exactly as formatted.

    The value is put into the kernel's namespace under ``name``. myst-nb evaluates ``{eval}``
    roles in the kernel while the book is built (``execute_notebooks: inline``), and
    jupyterlab-myst evaluates them in JupyterLab/Binder, so the same Markdown shows the same
    text in both (``{glue:text}`` renders only in the book). Names may be computed
    (``prose_text(f"data_{o}_k", ...)``).

    ``text`` must already be a string, or an integer (a count; shown as is). Format other numbers
    first (:mod:`gutmeta.report`:
    ``fmt_est``, ``fmt_ci``, ``fmt_p``): an ``{eval}`` of a float would print its repr
    (``0.0`` for "0.000"). ``name`` must be a Python identifier (myst-nb accepts only names).

    Two rules of inline execution (unlike ``{glue:text}``): the cell that calls this must come
    *before* the Markdown that uses the name, and must be shown (tag it ``remove-input`` or
    ``hide-input``, not ``remove-cell``: myst-nb drops a removed cell from the page and runs it
    only when the next shown code cell runs, which is after the Markdown was evaluated).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"prose: {name!r} is not a valid name for an {{eval}} role (letters, digits, _)")
    if isinstance(text, (int, np.integer)) and not isinstance(text, (bool, np.bool_)):
        text = str(int(text))                      # a count has one exact text
    if not isinstance(text, str):
        raise ValueError(f"prose: {name} must be preformatted text (str), got {type(text).__name__} "
                         f"{text!r}; format it first (gutmeta.report.fmt_est, fmt_ci, fmt_p, f-strings)")
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython ships with the book's environment
        shell = None
    (shell.user_ns if shell is not None else _PROSE_FALLBACK)[name] = text


def prose(**texts: str) -> None:
    """Several :func:`prose_text` at once: ``prose(pool_k="8", pool_est=fmt_est(fit.estimate))``
    makes ``{eval}`pool_k``` and ``{eval}`pool_est``` in Markdown show those strings."""
    for name, text in texts.items():
        prose_text(name, text)


# --------------------------------------------------------------------------------------------
# One rule for displays that need more trials
# --------------------------------------------------------------------------------------------

#: Fewest trials for each display or test. ``subgroup_test`` is special: it needs at least
#: ``MIN_K["subgroup_groups"]`` subgroups, each with at least ``MIN_K["subgroup_test"]`` trials.
MIN_K = {
    "pool": 1,
    "knha": 2,
    "heterogeneity": 2,
    "prediction_interval": 3,
    "influence": 3,
    "leave_one_out": 3,
    "baujat": 3,
    "gosh": 6,
    "funnel": 10,
    "egger": 10,
    "rank_test": 10,
    "trim_and_fill": 10,
    "pet_peese": 10,
    "meta_regression": 10,
    "subgroup_test": 2,
    "subgroup_groups": 2,
}

#: What each display is called in a sentence, and the source of its threshold.
_WHAT = {
    "pool": ("pooled estimate", "a pooled estimate needs a trial"),
    "knha": ("Knapp-Hartung test", "its t-distribution has k - 1 degrees of freedom"),
    "heterogeneity": ("heterogeneity estimate", "between-trial variance needs two trials"),
    "prediction_interval": ("prediction interval",
                            "Riley, Higgins & Deeks 2011, BMJ 342:d549: at least three studies"),
    "influence": ("influence diagnostics",
                  "leaving one trial out must leave at least two, book's rule"),
    "leave_one_out": ("leave-one-out analysis",
                      "leaving one trial out must leave at least two, book's rule"),
    "baujat": ("Baujat plot",
               "book's rule after Baujat et al. 2002: with two trials both points carry the same share of Q"),
    "gosh": ("GOSH plot",
             "book's rule after Olkin et al. 2012: at least 2^6 - 1 = 63 subsets for a pattern to show"),
    "funnel": ("funnel plot", "Cochrane Handbook 13.3.5.4; Sterne et al. 2011, BMJ 343:d4002"),
    "egger": ("Egger's test", "Cochrane Handbook 13.3.5.4; Sterne et al. 2011, BMJ 343:d4002"),
    "rank_test": ("rank correlation test", "Cochrane Handbook 13.3.5.4"),
    "trim_and_fill": ("trim-and-fill", "Cochrane Handbook 13.3.5.4, a funnel-plot method"),
    "pet_peese": ("PET-PEESE", "Cochrane Handbook 13.3.5.4, a small-study method"),
    "meta_regression": ("meta-regression", "Cochrane Handbook 10.11.4: ten studies per characteristic"),
    "subgroup_test": ("test of subgroup differences",
                      "a subgroup of one trial has no within-group estimate of its own, only that "
                      "trial, so the test would compare trials, not subgroups; book's rule, after "
                      "Cochrane Handbook 10.11.5"),
}


@dataclass(frozen=True)
class Verdict:
    """Whether a display can be shown, and the sentence that says why (or why not).

    Truthy when ``ok``; unpacks as ``ok, sentence = can_show(...)``; shows as its sentence
    (Markdown in a notebook, plain text for nbval).
    """

    ok: bool
    sentence: str
    kind: str

    def __bool__(self) -> bool:
        return self.ok

    def __iter__(self):
        return iter((self.ok, self.sentence))

    def __repr__(self) -> str:
        return self.sentence

    def _repr_markdown_(self) -> str:
        return self.sentence


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def _trials(n: int) -> str:
    return f"{n} trial" if n == 1 else f"{n} trials"


def can_show(kind: str, k=None, *, groups=None) -> Verdict:
    """Whether ``kind`` can be shown with ``k`` trials (the book's one rule, :data:`MIN_K`).

    Parameters
    ----------
    kind : str
        A key of :data:`MIN_K`: ``"funnel"``, ``"egger"``, ``"gosh"``, ``"baujat"``,
        ``"influence"``, ``"subgroup_test"``, ...
    k : int
        The number of trials in the analysis.
    groups : mapping, Series or sequence, for ``"subgroup_test"``
        Either the subgroup sizes ({level: n}, a value_counts() Series) or one label per trial.
        The test needs at least two subgroups and every subgroup at least two trials.

    Returns
    -------
    Verdict
        ``bool(v)`` says yes or no; ``v.sentence`` is one sentence for the reader, naming the
        threshold and its source (Cochrane Handbook 13.3.5.4 for funnel-plot methods: at least
        10 studies; Riley et al. 2011 for prediction intervals; the book's own rules otherwise,
        said so).
    """
    if kind not in MIN_K or kind == "subgroup_groups":
        allowed = sorted(k_ for k_ in MIN_K if k_ != "subgroup_groups")
        raise ValueError(f"unknown display {kind!r}; allowed: {allowed}")
    what, source = _WHAT[kind]
    if kind == "subgroup_test":
        if groups is None:
            raise ValueError("can_show('subgroup_test', groups=...) needs the subgroup sizes or labels")
        if isinstance(groups, Mapping):
            sizes = {str(g): int(n) for g, n in groups.items()}
        elif (isinstance(groups, pd.Series) and pd.api.types.is_integer_dtype(groups)
              and not isinstance(groups.index, pd.RangeIndex)):  # value_counts(): sizes by level
            sizes = {str(g): int(n) for g, n in groups.items()}
        else:
            sizes = pd.Series([str(g) for g in groups]).value_counts().sort_index().to_dict()
        need_g, need_n = MIN_K["subgroup_groups"], MIN_K["subgroup_test"]
        small = sorted(g for g, n in sizes.items() if n < need_n)
        if len(sizes) < need_g:
            return Verdict(False, f"No {what}: it needs at least {need_g} subgroups, and the trials "
                                  f"here form {len(sizes)}.", kind)
        if small:
            names = ", ".join(f"{g} ({_trials(sizes[g])})" for g in small)
            return Verdict(False, f"No {what}: every subgroup needs at least {need_n} trials, and "
                                  f"{names} {'has' if len(small) == 1 else 'have'} fewer ({source}).", kind)
        return Verdict(True, f"{_cap(what)}: {len(sizes)} subgroups, each with "
                             f"at least {need_n} trials.", kind)
    if k is None:
        raise ValueError(f"can_show({kind!r}, k) needs k, the number of trials")
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise ValueError(f"can_show: k must be a number of trials, got {k!r}") from None
    need = MIN_K[kind]
    if k == 0:
        return Verdict(False, f"No {what}: no trial is selected.", kind)
    if k >= need:
        return Verdict(True, f"{_cap(what)}: k = {k}, at least {need} needed.", kind)
    return Verdict(False, f"No {what}: it needs at least {_trials(need)} ({source}), and there "
                          f"{'is' if k == 1 else 'are'} {k} here.", kind)


__all__ = ["show_table", "interactive_table", "format_frame", "Table", "InteractiveTable", "can_show", "prose",
           "prose_text",
           "Verdict", "MIN_K", "HEADERS", "DIGITS", "NA"]
