"""The reader-facing table helpers and the one rule for displays that need more trials."""
import re

import numpy as np
import pandas as pd
import pytest

from gutmeta import display as gd
from gutmeta.display import MIN_K, can_show, format_frame, interactive_table, show_table


@pytest.fixture
def frame():
    return pd.DataFrame({
        "study": ["Akkasheh 2016", "Kazemi 2019", "Romijn 2017"],
        "n": [40.0, 1405.0, np.nan],
        "estimate": [-1.2345, 0.1, np.nan],
        "ci_low": [-1.9, -0.2, np.nan],
        "ci_high": [-0.5, 0.4, np.nan],
        "pvalue": [0.0004, 0.0456, 0.5],
        "reason": ["full text not openly readable; results printed only in Table 2 of the paper", None, ""],
    }, index=[10, 11, 12])


def _cells(html):
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", html, flags=re.S)]


def test_formatting_rules(frame):
    cells, numeric = format_frame(frame)
    assert list(cells.columns) == ["Study", "n", "Estimate", "95% CI", "p", "reason"]
    assert list(cells["n"]) == ["40", "1405", "\u2013"]            # integers as integers, NaN as en dash
    assert list(cells["Estimate"]) == ["\u22121.23", "0.10", "\u2013"]  # 2 decimals, typographic minus
    assert list(cells["95% CI"]) == ["[\u22121.90, \u22120.50]", "[\u22120.20, 0.40]", "\u2013"]
    assert list(cells["p"]) == ["<0.001", "0.046", "0.500"]          # 3 decimals for p
    assert list(cells["reason"])[1:] == ["\u2013", "\u2013"]
    assert "Study" not in numeric and "Estimate" in numeric


def test_show_table_html_has_no_index_no_nan_and_renamed_headers(frame):
    t = show_table(frame, columns=["study", "estimate", "ci_low", "n"], headers={"study": "Trial"})
    html = t._repr_html_()
    heads = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>.*?</th>", html, flags=re.S)]
    assert heads == ["Trial", "Estimate", "95% CI", "n"]             # key column first, no index header
    cells = _cells(html)
    assert len(cells) == 3 * 4                                        # no index cells
    assert not any(c.lower() == "nan" for c in cells)
    assert "1405" in cells and "1405.0" not in cells
    assert "10" not in cells                                          # the original index is gone


def test_text_output_is_stable_and_plain(frame):
    a, b = repr(show_table(frame)), repr(show_table(frame.copy()))
    assert a == b
    assert "nan" not in a.lower() and "0x" not in a and "Styler" not in a
    first = a.splitlines()[0].split()
    assert first[:3] == ["Study", "n", "Estimate"]
    # the HTML is stable too (ids are a hash of the content): nbval compares text/html
    assert show_table(frame)._repr_html_() == show_table(frame)._repr_html_()
    assert show_table(frame)._repr_html_() != show_table(frame.iloc[:2])._repr_html_()


def test_digits_and_ci_options(frame):
    cells, _ = format_frame(frame, digits={"estimate": 3, "n": 1}, ci=None)
    assert cells["Estimate"][0] == "\u22121.234" or cells["Estimate"][0] == "\u22121.235"
    assert cells["n"][0] == "40.0"
    assert "ci low" in cells.columns and "95% CI" not in cells.columns
    cells, _ = format_frame(frame, ci={"95% CI of g": ("ci_low", "ci_high")}, digits=1)
    assert cells["95% CI of g"][1] == "[\u22120.2, 0.4]"


def test_merged_pair_named_in_columns_and_mixed_text_columns(frame):
    cells, _ = format_frame(frame.assign(mixed=["a", 19.0, np.nan]), columns=["study", "ci_low", "ci_high", "mixed"])
    assert list(cells.columns) == ["Study", "95% CI", "mixed"]
    assert list(cells["mixed"]) == ["a", "19", "\u2013"]


def test_docstring_examples():
    import doctest
    assert doctest.testmod(gd).failed == 0


def test_long_text_wraps(frame):
    html = show_table(frame, wrap=30)._repr_html_()
    assert "white-space: normal" in html and "max-width: 30em" in html


def test_empty_table_is_a_sentence(frame):
    t = show_table(frame.iloc[:0], empty="No trial reports this outcome.")
    assert "<table" not in t._repr_html_()
    assert "No trial reports this outcome." in repr(t)


def test_bad_input_is_named(frame):
    with pytest.raises(ValueError, match="'nope'"):
        show_table(frame, columns=["study", "nope"])
    with pytest.raises(ValueError, match="ci_hi"):
        show_table(frame, ci=("ci_low", "ci_hi"))
    with pytest.raises(ValueError, match="DataFrame"):
        show_table([1, 2])


def test_interactive_table_is_offline_and_stable(frame, monkeypatch):
    monkeypatch.setattr(gd, "_ITABLES_JS_SENT", False)
    first = interactive_table(frame)._repr_html_()
    second = interactive_table(frame)._repr_html_()
    assert "unpkg" not in first.split("<script type=\"module\">")[0]  # the bundle is inline, no CDN
    assert "atob(" in first and "atob(" not in second                 # bundled once per kernel
    assert len(first) > 500_000 > len(second)
    assert "search" in second and "nan" not in second.lower().replace("nanoseconds", "")
    assert re.search(r'id="gmdt_[0-9a-f]{10}"', second)
    assert second == interactive_table(frame)._repr_html_()           # stable ids: nbval-safe
    text = repr(interactive_table(frame))
    assert text.splitlines()[0].split()[:2] == ["Study", "n"] and "nan" not in text.lower()
    assert "-1.23" in text                                            # ASCII minus: sorts as a number


# --- the one rule -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["funnel", "egger", "gosh", "baujat", "influence"])
def test_can_show_threshold(kind):
    need = MIN_K[kind]
    yes, no = can_show(kind, need), can_show(kind, need - 1)
    assert yes and not no
    ok, sentence = no
    assert not ok and f"at least {need} trials" in sentence and f"{need - 1} here" in sentence
    assert repr(no) == sentence and no._repr_markdown_() == sentence


def test_funnel_rule_cites_the_handbook():
    assert MIN_K["funnel"] == MIN_K["egger"] == 10
    assert "Cochrane Handbook 13.3.5.4" in can_show("funnel", 4).sentence


def test_subgroup_test_needs_two_trials_in_every_subgroup():
    assert not can_show("subgroup_test", groups=["probiotic", "prebiotic", "synbiotic"])
    v = can_show("subgroup_test", groups={"probiotic": 5, "prebiotic": 1})
    assert not v and "prebiotic (1 trial)" in v.sentence
    assert not can_show("subgroup_test", groups=["a", "a", "a"])      # one subgroup
    assert can_show("subgroup_test", groups=pd.Series(["a", "a", "b", "b"]))
    assert can_show("subgroup_test", groups=pd.Series(["a", "a", "b", "b"]).value_counts())


def test_can_show_rejects_unknown_kind():
    with pytest.raises(ValueError, match="allowed"):
        can_show("forest_of_doom", 3)
    with pytest.raises(ValueError, match="groups"):
        can_show("subgroup_test", 4)


def test_prose_sets_preformatted_text(monkeypatch):
    ns = {}
    monkeypatch.setattr(gd, "_PROSE_FALLBACK", ns)
    import IPython
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)      # no kernel: the fallback dict
    gd.prose(pool_p="0.000", pool_tau="1.40")
    gd.prose_text("data_depression_k", np.int64(8))                 # counts: exact as they are
    assert ns == {"pool_p": "0.000", "pool_tau": "1.40", "data_depression_k": "8"}
    with pytest.raises(ValueError, match="preformatted"):
        gd.prose(pool_ok=True)
    with pytest.raises(ValueError, match="preformatted"):
        gd.prose(pool_p=0.0)
    with pytest.raises(ValueError, match="valid name"):
        gd.prose_text("pool-p", "0.000")
