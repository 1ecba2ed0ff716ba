"""gm.bayes_pool and gm.bayes_model_average: limits, an independent 2-D quadrature, a worked example.

Tolerances: quantities that both sides compute by quadrature agree to 1e-6 relative (the issue's
target; in practice they agree to ~1e-9); closed forms to 1e-10; numbers printed in a package's
documentation to half a unit in the last printed digit, except where that package itself only
approximates (stated at the test).
"""
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

import gutmeta as gm
from gutmeta import bayes, pooling
from conftest import CLOSED, assert_close

QUAD = dict(rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- helpers

def _subset(d, n=None):
    d = d if n is None else d.iloc[:n]
    return d.yi.to_numpy(float), d.vi.to_numpy(float), list(d.study)


def _brute_force(y, v, prior, mu_sd=None, *, x_mu=(), x_tau=(), x_pred=(), theta1=()):
    """Posterior quantities by 2-D quadrature over (mu, tau) of the joint density, written from
    ``prod_i N(y_i; mu, v_i + tau^2) p(mu) p(tau)`` alone (no conjugate formulas): the inner
    integral over mu by composite Gauss-Legendre on a data-based range (split at each point where
    an indicator jumps), the outer over tau by scipy's adaptive ``quad_vec`` on [0, inf).

    The outer variable is tau for the half-normal and half-Cauchy priors (density ``prior.pdf``)
    and ``x = log(tau^2)`` for the Rhodes priors, with the paper's t_5(location, scale) density
    on ``x`` (the tau density diverges at 0).

    Returns a dict with Z (normalising constant; log p(y) when the mu prior is proper), E[mu],
    SD[mu], E[tau], SD[tau], P(mu < x) for x in x_mu, P(theta_new < x) for x in x_pred,
    P(theta_1 < x) for x in theta1, and P(tau < t) for t in x_tau.
    """
    gl_x, gl_w = np.polynomial.legendre.leggauss(20)

    def rule(a, b, panels=12):
        e = np.linspace(a, b, panels + 1)
        h = (e[1:] - e[:-1]) / 2
        c = (e[1:] + e[:-1]) / 2
        return (c[:, None] + h[:, None] * gl_x).ravel(), (h[:, None] * gl_w).ravel()

    y = np.asarray(y, float)
    v = np.asarray(v, float)
    log_shift = None

    rhodes = prior.kind.startswith("rhodes")

    def outer_density(s):
        if rhodes:
            return math.exp(s / 2), stats.t.pdf((s - prior.a) / prior.b, 5) / prior.b
        return s, float(prior.pdf(s))

    def inner(svar):
        tau, p_tau = outer_density(svar)
        s = math.sqrt(v.max() + tau ** 2)
        lo, hi = y.min() - 12 * s, y.max() + 12 * s
        # panel edges at every mu where an integrand jumps or turns steeply (for small tau,
        # Phi((x - mu)/tau) is nearly a step at mu = x; likewise for theta_1)
        t2 = tau ** 2
        steps = [*x_mu, *x_pred, *[(x * (v[0] + t2) - t2 * y[0]) / v[0] for x in theta1]]
        cuts = sorted({lo, hi, *[c for c in steps if lo < c < hi]})
        mus, ws = [], []
        for a, b in zip(cuts[:-1], cuts[1:]):
            m_, w_ = rule(a, b)
            mus.append(m_)
            ws.append(w_)
        mu = np.concatenate(mus)
        w = np.concatenate(ws)
        s2 = v + tau ** 2
        logj = -0.5 * (np.log(2 * np.pi * s2).sum() + (((y[None, :] - mu[:, None]) ** 2) / s2).sum(1))
        if mu_sd is not None:
            logj = logj + stats.norm.logpdf(mu, scale=mu_sd)
        dens = np.exp(logj - log_shift) * p_tau * w
        out = [dens.sum(), (dens * mu).sum(), (dens * mu ** 2).sum(), dens.sum() * tau,
               dens.sum() * tau ** 2]
        out += [dens[mu < x].sum() for x in x_mu]
        out += [(dens * special.ndtr((x - mu) / tau if tau > 0 else np.where(mu < x, np.inf, -np.inf))).sum()
                for x in x_pred]
        # theta_1 | mu, tau, y_1 ~ N((tau^2 y_1 + v_1 mu)/(v_1 + tau^2), v_1 tau^2/(v_1 + tau^2))
        for x in theta1:
            t2 = tau ** 2
            if t2 == 0:
                out.append(dens[mu < x].sum())
            else:
                mean = (t2 * y[0] + v[0] * mu) / (v[0] + t2)
                sd = math.sqrt(v[0] * t2 / (v[0] + t2))
                out.append((dens * special.ndtr((x - mean) / sd)).sum())
        return np.array(out)

    # scale the joint density by its value near the data to avoid underflow
    s2 = v + np.var(y)
    ybar = np.average(y, weights=1 / s2)
    log_shift = float(-0.5 * (np.log(2 * np.pi * s2).sum() + ((y - ybar) ** 2 / s2).sum()))
    lo = -np.inf if rhodes else 0.0
    tot, _ = integrate.quad_vec(inner, lo, np.inf, epsrel=1e-10, epsabs=0, limit=2000)
    Z = tot[0]
    res = {"log_z": math.log(Z) + log_shift, "mu_mean": tot[1] / Z,
           "mu_sd": math.sqrt(tot[2] / Z - (tot[1] / Z) ** 2), "tau_mean": tot[3] / Z,
           "tau_sd": math.sqrt(tot[4] / Z - (tot[3] / Z) ** 2)}
    i = 5
    res["p_mu"] = tot[i:i + len(x_mu)] / Z
    i += len(x_mu)
    res["p_pred"] = tot[i:i + len(x_pred)] / Z
    i += len(x_pred)
    res["p_theta1"] = tot[i:i + len(theta1)] / Z
    res["p_tau"] = np.array([integrate.quad_vec(inner, lo, 2 * math.log(t) if rhodes else t,
                                                 epsrel=1e-10, epsabs=0)[0][0] / Z for t in x_tau])
    return res


def _halfnormal(scale):
    return lambda t: 2 * stats.norm.pdf(t, scale=scale)


# --------------------------------------------------------------------------- (a), (b): limits

@pytest.mark.parametrize("ds,tau2", [("bcg", 0.3132432581364814), ("normand1999", 0.25),
                                     ("homog", 0.0), ("raudenbush1985", 1e-4)])
def test_point_prior_reproduces_fixed_tau2_fit(ds, tau2, dataset):
    """A point-mass prior at tau with a flat prior on mu is the random-effects model at that tau2:
    posterior of mu = N(estimate, se^2) of fit_model(yi, vi, tau2=tau2)."""
    y, v, _ = _subset(dataset(ds))
    fit = pooling.fit_model(y, v, tau2=tau2)
    r = gm.bayes_pool(y, v, tau_prior="point", tau_scale=math.sqrt(tau2), mu_sd=None)
    z = stats.norm.ppf(0.975)
    assert_close(r.mu_median, fit.beta[0], CLOSED)
    assert_close(r.mu_mean, fit.beta[0], CLOSED)
    assert_close(r.mu_sd, fit.se[0], CLOSED)
    assert_close([r.mu_low, r.mu_high], [fit.ci_low[0], fit.ci_high[0]], dict(rtol=1e-10, atol=1e-11))
    half = z * math.sqrt(fit.se[0] ** 2 + tau2)
    assert_close([r.pred_low, r.pred_high], [fit.beta[0] - half, fit.beta[0] + half],
                 dict(rtol=1e-10, atol=1e-11))
    assert_close(r.prob_benefit, stats.norm.cdf(-fit.beta[0] / fit.se[0]), CLOSED)
    assert r.tau_median == r.tau_low == r.tau_high == math.sqrt(tau2)


def test_point_prior_matches_pool_reml(dataset):
    """... and at the REML estimate it is gm.pool(method='REML'), the public front door."""
    y, v, _ = _subset(dataset("bcg"))
    fit = gm.pool(y, v, method="REML")
    r = gm.bayes_pool(y, v, tau_prior="point", tau_scale=math.sqrt(fit.tau2))
    assert_close([r.mu_median, r.mu_sd, r.mu_low, r.mu_high, r.pred_low, r.pred_high],
                 [fit.estimate, fit.se, fit.ci_low, fit.ci_high, fit.pi_low, fit.pi_high],
                 dict(rtol=1e-9, atol=1e-10))


@pytest.mark.parametrize("tau", [0.0, 0.2, 1.5])
def test_huge_mu_prior_sd_gives_weighted_mean(tau, dataset):
    """With mu ~ N(0, 1e8^2), the tau-conditional posterior mean of mu is the weighted mean
    sum(w y)/sum(w), w = 1/(v + tau^2), and its variance 1/sum(w)."""
    y, v, _ = _subset(dataset("bcg"))
    w = 1 / (v + tau ** 2)
    _, m, V = bayes._loglik(y, v, np.array([tau]), 1e8)
    assert_close(m[0], np.sum(w * y) / np.sum(w), CLOSED)
    assert_close(V[0], 1 / np.sum(w), CLOSED)
    r = gm.bayes_pool(y, v, tau_prior="point", tau_scale=tau, mu_sd=1e8)
    assert_close(r.mu_mean, np.sum(w * y) / np.sum(w), CLOSED)


def test_huge_mu_prior_sd_approaches_flat_prior(dataset):
    """Integrated over tau as well: mu_sd = 1e7 and the flat prior give the same posterior."""
    y, v, _ = _subset(dataset("normand1999"))
    a = gm.bayes_pool(y, v, mu_sd=None)
    b = gm.bayes_pool(y, v, mu_sd=1e7)
    for f in ("mu_median", "mu_low", "mu_high", "tau_median", "tau_high", "pred_low", "pred_high"):
        assert_close(getattr(b, f), getattr(a, f), dict(rtol=1e-8, atol=1e-10), f)


# --------------------------------------------------------------------------- (c): closed forms

@pytest.mark.parametrize("ds", ["bcg", "homog", "normand1999"])
def test_marginal_likelihoods_closed_form(ds, dataset):
    """The no-heterogeneity models' marginal likelihoods are multivariate normal densities."""
    y, v, _ = _subset(dataset(ds))
    k = len(y)
    b = gm.bayes_model_average(y, v, mu_sd=0.7)
    lml = b.log_marginal_likelihoods
    assert_close(lml["no effect, no heterogeneity"],
                 stats.multivariate_normal(mean=np.zeros(k), cov=np.diag(v)).logpdf(y), CLOSED)
    assert_close(lml["effect, no heterogeneity"],
                 stats.multivariate_normal(mean=np.zeros(k), cov=np.diag(v) + 0.49).logpdf(y), CLOSED)
    # point-mass tau prior: the heterogeneity models are normal densities too
    t = 0.3
    p = gm.bayes_model_average(y, v, tau_prior="point", tau_scale=t, mu_sd=0.7)
    lp = p.log_marginal_likelihoods
    assert_close(lp["no effect, heterogeneity"],
                 stats.multivariate_normal(mean=np.zeros(k), cov=np.diag(v + t ** 2)).logpdf(y), CLOSED)
    assert_close(lp["effect, heterogeneity"],
                 stats.multivariate_normal(mean=np.zeros(k), cov=np.diag(v + t ** 2) + 0.49).logpdf(y),
                 CLOSED)
    # the log evidence of bayes_pool is the same quantity
    r = gm.bayes_pool(y, v, tau_prior="point", tau_scale=t, mu_sd=0.7)
    assert_close(r.log_marginal_likelihood, lp["effect, heterogeneity"], CLOSED)


@pytest.mark.parametrize("ds", ["bcg", "homog", "normand1999"])
def test_model_probabilities_and_bayes_factors_are_consistent(ds, dataset):
    y, v, _ = _subset(dataset(ds))
    b = gm.bayes_model_average(y, v)
    lml = np.array([b.log_marginal_likelihoods[n] for n in bayes.MODEL_NAMES])
    post = np.exp(lml - special.logsumexp(lml))
    assert_close([b.posterior_probs[n] for n in bayes.MODEL_NAMES], post, CLOSED)
    assert_close(sum(b.posterior_probs.values()), 1.0, CLOSED)
    # inclusion Bayes factor = posterior inclusion odds (prior odds 1), on the log scale so
    # that odds of 1e25 (bcg's heterogeneity) are not lost to 1 - p
    assert_close(math.log(b.bf_effect), np.logaddexp(lml[2], lml[3]) - np.logaddexp(lml[0], lml[1]),
                 CLOSED)
    assert_close(math.log(b.bf_heterogeneity),
                 np.logaddexp(lml[1], lml[3]) - np.logaddexp(lml[0], lml[2]), CLOSED)
    pe, ph = post[2] + post[3], post[1] + post[3]
    if 1e-6 < pe < 1 - 1e-6:
        assert_close(b.bf_effect, pe / (1 - pe), dict(rtol=1e-8, atol=0))
    if 1e-6 < ph < 1 - 1e-6:
        assert_close(b.bf_heterogeneity, ph / (1 - ph), dict(rtol=1e-8, atol=0))
    assert_close(b.prob_effect, pe, CLOSED)
    assert_close(b.prob_heterogeneity, ph, CLOSED)
    q = b.mu_quantile([0.025, 0.5, 0.975])
    assert_close(q, [b.mu_low, b.mu_median, b.mu_high], CLOSED)
    for p_, x in zip([0.025, 0.5, 0.975], q):
        if x != 0:  # off the jump at 0 the averaged CDF is continuous and hits p exactly
            assert_close(b.prob_below(x), p_, dict(rtol=1e-9, atol=1e-12))


def test_model_average_with_point_mass_at_zero():
    """When the null models dominate, the averaged median is exactly 0 (the jump of the CDF)."""
    y = np.array([0.02, -0.03, 0.01, 0.0])
    v = np.array([0.01, 0.02, 0.015, 0.01])
    b = gm.bayes_model_average(y, v)
    assert b.prob_effect < 0.5
    assert b.mu_median == 0.0
    assert b.prob_below(-1e-12) < 0.5 <= b.prob_below(1e-12)
    # a quantile in the continuous part solves the CDF
    q = b.mu_quantile(0.01)
    assert q < 0
    assert_close(b.prob_below(q), 0.01, dict(rtol=1e-9, atol=1e-12))


def test_heterogeneity_marginal_likelihood_by_quadrature(dataset):
    """M(mu = 0, tau ~ HN(0.5)): p(y) = ∫ p(tau) N(y; 0, diag(v + tau^2)) dtau by scipy quad."""
    y, v, _ = _subset(dataset("normand1999"))
    b = gm.bayes_model_average(y, v)
    shift = stats.multivariate_normal(np.zeros(len(y)), np.diag(v + 1.0)).logpdf(y)

    def f(t):
        return 2 * stats.norm.pdf(t, scale=0.5) * math.exp(
            stats.multivariate_normal(np.zeros(len(y)), np.diag(v + t * t)).logpdf(y) - shift)
    val, _ = integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12, limit=500)
    assert_close(b.log_marginal_likelihoods["no effect, heterogeneity"], math.log(val) + shift, QUAD)


# --------------------------------------------------------------------------- (d): 2-D quadrature

CASES = [  # (dataset, first n rows or None, prior, mu_sd)
    ("normand1999", 2, "half-normal", None),      # k = 2
    ("bcg", None, "half-normal", None),           # k = 13
    ("homog", None, "half-normal", None),         # REML tau2 = 0
    ("bcg", None, "half-cauchy", 1.0),            # proper mu prior: log evidence too
    ("raudenbush1985", None, "rhodes", None),     # k = 19, empirical prior
]


@pytest.mark.parametrize("ds,n,prior,mu_sd", CASES)
def test_agrees_with_2d_quadrature(ds, n, prior, mu_sd, dataset):
    y, v, labs = _subset(dataset(ds), n)
    if ds == "homog":
        assert gm.pool(y, v).tau2 == 0.0
    r = gm.bayes_pool(y, v, tau_prior=prior, tau_scale=0.5, mu_sd=mu_sd, labels=labs)
    pr = bayes._make_prior(prior, 0.5)
    bf = _brute_force(y, v, pr, mu_sd,
                      x_mu=(r.mu_low, r.mu_median, r.mu_high, 0.0, -0.24),
                      x_tau=(r.tau_median, r.tau_high),
                      x_pred=(r.pred_low, r.pred_high), theta1=(r.theta_median[0],))
    assert_close([r.mu_mean, r.mu_sd, r.tau_mean, r.tau_sd],
                 [bf["mu_mean"], bf["mu_sd"], bf["tau_mean"], bf["tau_sd"]], QUAD)
    assert_close(bf["p_mu"], [0.025, 0.5, 0.975, r.prob_benefit, r.prob_relevant], QUAD)
    assert_close(bf["p_tau"], [0.5, 0.975], QUAD)
    assert_close(bf["p_pred"], [0.025, 0.975], QUAD)
    assert_close(bf["p_theta1"], [0.5], QUAD)
    if mu_sd is not None:
        assert_close(r.log_marginal_likelihood, bf["log_z"], QUAD)


def test_quadrature_converged(dataset):
    """Halving the quadrature tolerance does not move the results (internal convergence check)."""
    y, v, _ = _subset(dataset("bcg"))
    a = gm.bayes_pool(y, v)
    old = bayes._QUAD_RTOL
    try:
        bayes._QUAD_RTOL = 1e-13
        b = gm.bayes_pool(y, v)
    finally:
        bayes._QUAD_RTOL = old
    for f in ("mu_median", "mu_low", "mu_high", "tau_median", "tau_low", "tau_high", "pred_high"):
        assert_close(getattr(a, f), getattr(b, f), dict(rtol=1e-9, atol=1e-12), f)


def test_tau_densities_integrate_to_one(dataset):
    y, v, _ = _subset(dataset("bcg"))
    for prior in ("half-normal", "half-cauchy", "uniform"):
        r = gm.bayes_pool(y, v, tau_prior=prior, tau_scale=1.0 if prior == "uniform" else 0.5)
        mass = integrate.trapezoid(r.tau_posterior_density, r.tau_grid)
        assert 0.99 < mass <= 1.0 + 1e-6, prior


@pytest.mark.parametrize("prior", ["half-normal", "half-cauchy", "rhodes", "rhodes-nonpharm", "uniform"])
def test_prior_densities_are_normalised(prior):
    pr = bayes._make_prior(prior, 0.5)
    # in u = log(tau) every prior is smooth; integrate there
    f = lambda u: math.exp(pr.logpdf_u(u))  # noqa: E731
    c = math.log(pr.quantile(0.5))
    val = sum(integrate.quad(f, a, b, limit=500, epsabs=0, epsrel=1e-12)[0]
              for a, b in [(-np.inf, c - 5), (c - 5, c), (c, c + 5), (c + 5, np.inf)])
    assert_close(val, 1.0, dict(rtol=1e-8, atol=0))
    for p in (0.05, 0.5, 0.95):
        assert_close(pr.cdf(pr.quantile(p)), p, CLOSED)


def test_rhodes_parameters():
    """Rhodes et al. (2015) Table 3, mental health outcome, as read from the bayesmeta source."""
    assert bayes.RHODES_2015_MENTAL_HEALTH["pharmacological vs placebo/control"] == (-2.99, 2.16)
    assert bayes.RHODES_2015_MENTAL_HEALTH["non-pharmacological (any)"] == (-3.85, 1.93)
    pr = bayes._make_prior("rhodes", None)
    assert_close(pr.quantile(0.5), math.exp(-2.99 / 2), CLOSED)  # prior median of tau: 0.224


# --------------------------------------------------------------------------- (e): worked example

def test_bayesmeta_vignette_eight_schools():
    """bayesmeta's vignette (cran/bayesmeta, inst/doc/bayesmeta.html at commit
    10a27a7fc70992eeff959d0a48e509c767b73223, "A simple example" and "More detailed analysis"):
    Rubin (1981) eight schools (effects and standard errors from data/Rubin1981.R),
    mu ~ N(0, 50^2), tau ~ half-Cauchy(25). Printed there:

    * "marginal posterior summary": tau median 4.758539, mean 5.884511, sd 4.869904, 95% upper
      (shortest interval; the mode is 0, so this is the 95% quantile) 15.165894; mu median
      7.962961, mean 7.985729, sd 4.995762, shortest 95% interval -1.823353 to 17.824562;
    * ``qposterior(tau.p=c(0.025, 0.975))``: 0.2199559 18.0531718;
    * ``1 - pposterior(mu=0)``: 0.9487521; ``qposterior(mu.p=0.95)``: 16.11009;
    * ``$theta`` (shrinkage) for schools A, G, H: median 10.093581, 9.786985, 8.266594;
      mean 11.095255, 10.336032, 8.474644.

    bayesmeta integrates p(tau | y) numerically (rel. tol. ~1.5e-11), so the tau numbers are
    compared at half a unit of the last printed digit. Its mu and theta numbers come from a
    discretised normal mixture (the DIRECT algorithm, Röver & Friede 2017, J Comput Graph Stat
    26:237; default divergence bound delta = 1%), which is accurate to a few parts in 1e4 only:
    an independent nested scipy.integrate.quad over (mu, tau) gives E[mu] = 7.98604183 and
    E[theta_A] = 11.0980540 (ours: 7.98604183, 11.0980540; bayesmeta: 7.985729, 11.095255). These
    are compared at 2e-3 relative; the 2-D quadrature tests above check mu and theta to 1e-6.
    """
    y = np.array([28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16])
    se = np.array([14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6])
    r = gm.bayes_pool(y, se ** 2, tau_prior="half-cauchy", tau_scale=25, mu_sd=50,
                      labels=list("ABCDEFGH"))
    half_unit = dict(rtol=0, atol=5.01e-7)
    assert_close(r.tau_median, 4.758539, half_unit)
    assert_close(r.tau_mean, 5.884511, half_unit)
    assert_close(r.tau_sd, 4.869904, half_unit)
    assert_close([r.tau_low, r.tau_high], [0.2199559, 18.0531718], dict(rtol=0, atol=5.01e-8))
    r90 = gm.bayes_pool(y, se ** 2, tau_prior="half-cauchy", tau_scale=25, mu_sd=50, level=0.90)
    assert_close(r90.tau_high, 15.165894, half_unit)

    approx = dict(rtol=2e-3, atol=0)
    assert_close([r.mu_median, r.mu_mean, r.mu_sd], [7.962961, 7.985729, 4.995762], approx)
    assert_close(1 - r.prob_benefit, 0.9487521, approx)
    assert_close(r.mu_quantile(0.95), 16.11009, approx)
    from scipy.optimize import minimize_scalar
    width = minimize_scalar(lambda p: r.mu_quantile(p + 0.95) - r.mu_quantile(p),
                            bounds=(1e-6, 0.05 - 1e-6), method="bounded", options={"xatol": 1e-10})
    lo, hi = r.mu_quantile(width.x), r.mu_quantile(width.x + 0.95)
    assert_close([lo, hi], [-1.823353, 17.824562], dict(rtol=0, atol=5e-3))
    idx = [0, 6, 7]  # schools A, G, H
    assert_close(r.theta_median[idx], [10.093581, 9.786985, 8.266594], approx)
    assert_close(r.theta_mean[idx], [11.095255, 10.336032, 8.474644], approx)
    assert_close(r.mu_mean, 7.98604183, dict(rtol=2e-9, atol=0))          # nested quad, above
    assert_close(r.theta_mean[0], 11.0980540377, dict(rtol=2e-9, atol=0))  # nested quad, above


# --------------------------------------------------------------------------- edge cases

def test_k1_and_k2():
    r1 = gm.bayes_pool([-0.4], [0.04])
    assert r1.k == 1 and r1.mu_low < -0.4 < r1.mu_high and r1.pred_low < r1.mu_low
    assert_close(r1.mu_median, -0.4, dict(rtol=1e-9, atol=1e-12))  # symmetric about y
    # one trial, flat mu prior: p(tau | y) is the prior, and the Rhodes prior's heavy tail gives
    # mixture components with enormous SDs; the quantiles must still solve the CDF
    for prior in ("rhodes", "half-cauchy"):
        r = gm.bayes_pool([-0.4], [0.04], tau_prior=prior)
        assert_close(r.prob_below([r.mu_low, r.mu_high]), [0.025, 0.975], dict(rtol=1e-9, atol=1e-12))
        assert -10 < r.mu_low < -0.4 < r.mu_high < 10
    r2 = gm.bayes_pool([-0.4, 0.1], [0.04, 0.05])
    assert r2.mu_low < r2.mu_median < r2.mu_high
    b1 = gm.bayes_model_average([-0.4], [0.04])
    assert_close(sum(b1.posterior_probs.values()), 1.0, CLOSED)


def test_large_k_unequal_variances_and_large_effects():
    rng = np.random.default_rng(20261129)
    k = 200
    v = 10 ** rng.uniform(-4, 1, k)             # variances over five orders of magnitude
    y = 50 + rng.normal(0, np.sqrt(v + 0.3 ** 2))  # a large effect
    r = gm.bayes_pool(y, v, mu_sd=None)
    fit = gm.pool(y, v)
    assert abs(r.mu_median - fit.estimate) < 5 * fit.se
    assert 0.1 < r.tau_median < 0.6
    b = gm.bayes_model_average(y, v, mu_sd=100.0)
    assert b.posterior_probs["effect, heterogeneity"] > 0.999
    assert b.log_bf_effect > 1000 and b.log_bf_heterogeneity > 10  # far beyond doubt, yet finite logs
    assert_close(b.mu_median, r.mu_median, dict(rtol=1e-3, atol=0))  # the averaged mu = model 11's
    assert all(np.isfinite(x) for x in b.log_marginal_likelihoods.values())


def test_shrinkage_between_observed_and_pooled(dataset):
    y, v, labs = _subset(dataset("bcg"))
    r = gm.bayes_pool(y, v, labels=labs)
    # each trial's posterior mean lies between its own estimate and the pooled mean
    lo = np.minimum(y, r.mu_mean) - 1e-12
    hi = np.maximum(y, r.mu_mean) + 1e-12
    assert np.all((r.theta_mean >= lo) & (r.theta_mean <= hi))
    assert np.all(r.theta_low < r.theta_median) and np.all(r.theta_median < r.theta_high)
    assert list(r.shrinkage_frame().study) == labs


def test_prob_below_and_quantile_are_inverse(dataset):
    y, v, _ = _subset(dataset("normand1999"))
    r = gm.bayes_pool(y, v, tau_prior="rhodes")
    assert_close(r.prob_below(r.mu_quantile([0.1, 0.5, 0.9])), [0.1, 0.5, 0.9], dict(rtol=1e-10, atol=1e-12))
    assert_close(r.prob_below(0.0), r.prob_benefit, CLOSED)
    assert_close(r.prob_below(-0.24), r.prob_relevant, CLOSED)
    assert r.delta == bayes.DELTA_CUIJPERS_2014 == 0.24
    assert_close(r.prob_harm, 1 - r.prob_benefit, CLOSED)


def test_prints_and_tables(dataset):
    y, v, labs = _subset(dataset("bcg"))
    r = gm.bayes_pool(y, v, labels=labs)
    text = str(r)
    assert "Bayesian Random-Effects Model (k = 13" in text and "half-normal(scale = 0.5)" in text
    assert f"{r.mu_median:9.4f}".strip() in text
    assert r.to_frame().shape[0] == 1
    b = gm.bayes_model_average(y, v)
    tb = str(b)
    assert "Inclusion Bayes factor, effect" in tb and "effect, heterogeneity" in tb
    assert list(b.to_frame().model) == list(bayes.MODEL_NAMES)
    assert "Rhodes et al. 2015" in str(gm.bayes_pool(y, v, tau_prior="rhodes"))


# --------------------------------------------------------------------------- (f): bad input

@pytest.mark.parametrize("kwargs,match", [
    (dict(tau_prior="lognormal"), "unknown tau_prior 'lognormal'; allowed: half-normal"),
    (dict(tau_scale=0), "tau_scale must be finite and > 0"),
    (dict(tau_scale=-1), "tau_scale must be finite and > 0"),
    (dict(tau_scale="wide"), "tau_scale must be a number"),
    (dict(tau_prior="point", tau_scale=-0.1), "point-mass prior"),
    (dict(mu_sd=0), "mu_sd must be None or a positive finite number"),
    (dict(mu_sd=np.inf), "mu_sd must be None or a positive finite number"),
    (dict(level=1.5), "level must be between 0 and 1"),
    (dict(delta=-0.2), "delta must be a finite number >= 0"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gm.bayes_pool([0.1, 0.2], [0.1, 0.1], **kwargs)


def test_bad_data_names_the_study():
    with pytest.raises(ValueError, match="Trial B: field 'vi' must be > 0"):
        gm.bayes_pool([0.1, 0.2], [0.1, 0.0], labels=["Trial A", "Trial B"])
    with pytest.raises(ValueError, match="study 2: field 'yi' is missing or not finite"):
        gm.bayes_pool([0.1, np.nan], [0.1, 0.1])
    with pytest.raises(ValueError, match="mismatched lengths"):
        gm.bayes_pool([0.1, 0.2, 0.3], [0.1, 0.1])
    with pytest.raises(ValueError, match="no studies"):
        gm.bayes_pool([], [])
    with pytest.raises(ValueError, match="mu_sd must be a positive number here"):
        gm.bayes_model_average([0.1, 0.2], [0.1, 0.1], mu_sd=None)
    with pytest.raises(ValueError, match="p must lie strictly between 0 and 1"):
        gm.bayes_pool([0.1, 0.2], [0.1, 0.1]).mu_quantile(1.0)


def test_level_changes_interval_width(dataset):
    y, v, _ = _subset(dataset("bcg"))
    a = gm.bayes_pool(y, v, level=0.95)
    b = gm.bayes_pool(y, v, level=0.80)
    assert b.mu_high - b.mu_low < a.mu_high - a.mu_low
    assert b.tau_high - b.tau_low < a.tau_high - a.tau_low
    assert b.pred_high - b.pred_low < a.pred_high - a.pred_low
    assert_close(b.prob_below([b.mu_low, b.mu_high]), [0.10, 0.90], dict(rtol=1e-10, atol=1e-12))
    assert a.mu_median == b.mu_median
