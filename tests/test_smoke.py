"""Every printing and plotting function runs once."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import gutmeta as gm  # noqa: E402


def test_printing(dataset):
    d = dataset("bcg")
    for m, t in [("REML", "z"), ("EE", "z"), ("DL", "knha")]:
        text = str(gm.pool(d.yi, d.vi, method=m, test=t))
        assert "Model Results" in text and "Q(df = 12)" in text
    assert "Test of Moderators" in str(gm.meta_regression(d.yi, d.vi, d[["ablat"]]))
    assert "Test for subgroup differences" in str(gm.subgroups(d.yi, d.vi, d.alloc))
    assert "Funnel Plot Asymmetry: z =" in str(gm.egger_test(d.yi, d.vi))
    assert "(df = 11)" in str(gm.egger_test(d.yi, d.vi, model="lm"))
    assert "Kendall's tau" in str(gm.rank_test(d.yi, d.vi))
    tf = gm.trim_and_fill(d.yi, d.vi, method="EE")
    assert f"missing studies on the {tf.side} side: {tf.k0}" in str(tf)
    assert "Conditional estimate" in str(gm.pet_peese(d.yi, d.vi))


def test_formatters():
    assert gm.fmt_est(-1.764) == "\u22121.76"
    assert gm.fmt_est(-0.001) == "0.00"
    assert gm.fmt_ci(-2.42, -1.1) == "[\u22122.42, \u22121.10]"
    assert gm.fmt_p(0.0321) == "p = 0.032" and gm.fmt_p(1e-5) == "p < 0.001"
    assert gm.fmt_pct(96.29) == "96.3%"


def test_plots(dataset):
    d = dataset("bcg")
    fit = gm.pool(d.yi, d.vi)
    figs = [
        gm.plots.forest_plot(d.yi, d.vi, labels=d.study, fit=fit, title="BCG"),
        gm.plots.forest_plot(d.yi, d.vi, labels=d.study, fit=gm.pool(d.yi, d.vi, method="EE")),
        gm.plots.funnel_plot(d.yi, d.vi, fit=fit, filled=gm.trim_and_fill(d.yi, d.vi, method="EE")),
        gm.plots.baujat_plot(gm.baujat(d.yi, d.vi, labels=d.study)),
        gm.plots.gosh_plot(gm.gosh(d.yi, d.vi, labels=d.study)),
        gm.plots.gosh_plot(gm.gosh(d.yi, d.vi, labels=d.study), highlight=d.study[0]),
        gm.plots.leave_one_out_plot(gm.leave_one_out(d.yi, d.vi, labels=d.study), fit=fit),
        gm.plots.estimates_plot(pd.DataFrame({"label": ["a", "b"], "estimate": [-1, -0.5],
                                              "ci_low": [-2, -1], "ci_high": [0, 0]})),
    ]
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure)
        fig.canvas.draw()
        gm.plots.close(fig)
    assert plt.get_fignums() == []


def test_specification_curve_plot():
    from gutmeta import multiverse

    ev = gm.load_evidence()
    mv = multiverse.run(ev, data_grid={"unlabelled_as": ["SD", "SE"], "include_derived": [True, False]},
                        pool_grid={"method": ["REML", "DL"], "test": ["z", "knha"]})
    assert len(mv.specs) == 4 and mv.n_specifications == 16
    fig = multiverse.curve_plot(mv.meta_analyses(), title="t")
    fig.canvas.draw()
    gm.plots.close(fig)
