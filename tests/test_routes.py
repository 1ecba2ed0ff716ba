"""Each route from printed numbers to (yi, vi) against metafor or a hand computation."""
import numpy as np
import pandas as pd
import pytest

import gutmeta as gm
from gutmeta import routes
from conftest import CLOSED, REF_DIR, assert_close

REF = pd.read_csv(REF_DIR / "routes_reference.csv", keep_default_na=False, dtype=str)
REF = REF[REF.route != "_meta"]


@pytest.mark.parametrize("row", REF[REF.route == "responders->OR->SMD"].to_dict("records"))
def test_responders_match_metafor_or2dl(row):
    yi, vi = routes.responders(float(row["a"]), float(row["b"]), float(row["c"]), float(row["d"]))
    assert_close([yi, vi], [float(row["yi"]), float(row["vi"])], CLOSED)


@pytest.mark.parametrize("row", REF[REF.route == "exact p->t->g"].to_dict("records"))
def test_exact_p_and_bound_match_metafor_smd_from_t(row):
    p, n1, n2 = float(row["a"]), float(row["b"]), float(row["c"])
    want = [float(row["yi"]), float(row["vi"])]
    assert_close(routes.from_exact_p(p, n1, n2, +1), want, CLOSED)
    assert_close(routes.p_bound(p, n1, n2, +1), want, CLOSED)
    neg = routes.from_exact_p(p, n1, n2, -1)
    assert neg[0] == pytest.approx(-want[0]) and neg[1] == pytest.approx(want[1])


def test_responders_by_hand():
    # 14/22 vs 7/22: OR = (14*15)/(8*7) = 3.75
    yi, vi = routes.responders(14, 22, 7, 22)
    assert yi == pytest.approx(-np.log(3.75) * np.sqrt(3) / np.pi, rel=1e-14)
    assert vi == pytest.approx((1 / 14 + 1 / 8 + 1 / 7 + 1 / 15) * 3 / np.pi**2, rel=1e-14)


def test_responders_reject_impossible_counts():
    with pytest.raises(ValueError, match="non-events_treatment"):
        routes.responders(23, 22, 7, 22)
    with pytest.raises(ValueError, match="events_control"):
        routes.responders(3, 22, -1, 22)


def test_bound_is_conservative():
    """Any exact p below the bound gives a larger |g| than the bound itself."""
    g_bound = abs(routes.p_bound(0.05, 20, 20, -1)[0])
    for p in (0.049, 0.01, 0.001):
        assert abs(routes.from_exact_p(p, 20, 20, -1)[0]) > g_bound


def test_d_range_takes_the_end_nearest_zero():
    assert routes.d_range(0.07, 0.16, 40, 39, -1) == pytest.approx(routes.from_d(0.07, 40, 39, -1))
    assert routes.d_range(-0.2, 0.1, 40, 39, -1)[0] == 0.0


def test_null_effect_variance():
    yi, vi = routes.null_effect(23, 22)
    assert yi == 0 and vi == pytest.approx(1 / 23 + 1 / 22)


def test_d_and_g_routes():
    yi, vi = routes.from_d(0.7, 24, 25, -1)
    want = gm.smd_from_t([-0.7 / np.sqrt(1 / 24 + 1 / 25)], [24], [25])
    assert_close([yi, vi], [want[0][0], want[1][0]], CLOSED)
    g = float(gm.hedges_j(47)) * 0.7
    assert routes.from_d(g, 24, 25, -1, kind="g")[0] == pytest.approx(yi, rel=1e-13)


def test_md_ci_route():
    yi, _ = routes.from_md_ci(-3.0, -5.0, -1.0, 30, 30, -1)
    t = -3.0 / (4.0 / (2 * 1.959963984540054))
    assert yi == pytest.approx(gm.smd_from_t([t], [30], [30])[0][0], rel=1e-12)


def test_steps():
    assert routes.split_total(45) == (23, 22)
    assert routes.split_total(40) == (20, 20)
    with pytest.raises(ValueError):
        routes.split_total(3)
    assert routes.pooled_sd([10.0], [30]) == 10.0
    assert routes.pooled_sd([6.0, 8.0], [21, 11]) == pytest.approx(np.sqrt((20 * 36 + 10 * 64) / 30))
    with pytest.raises(ValueError):
        routes.pooled_sd([], [])


def test_catalogue_names_every_route_and_its_switch():
    cat = routes.catalogue()
    assert cat["label"].is_unique
    fields = set(gm.Choices.__dataclass_fields__) | {"(always on)"}
    assert set(cat["choice"]) <= fields
    assert (cat["formula"].str.len() > 0).all() and (cat["source"].str.len() > 0).all()
    with pytest.raises(ValueError, match="unknown route"):
        routes.compute("guess->g")
