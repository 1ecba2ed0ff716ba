"""Bayesian random-effects meta-analysis and Bayesian model averaging, by quadrature (no MCMC).

Model (the normal-normal hierarchical model with known within-trial variances):
``y_i | theta_i ~ N(theta_i, v_i)``, ``theta_i | mu, tau ~ N(mu, tau^2)``, so that
``y_i | mu, tau ~ N(mu, v_i + tau^2)``; priors ``p(mu, tau) = p(mu) p(tau)`` with ``p(mu)`` flat or
``N(0, mu_sd^2)`` and ``p(tau)`` one of :data:`TAU_PRIORS`.

Computation follows the route of the bayesmeta R package (Röver 2020, J Stat Softw 93(6),
doi:10.18637/jss.v093.i06), written here from the formulas:

* Given ``tau``, ``mu`` is conjugate: with ``w_i = 1/(v_i + tau^2)`` and ``W = sum(w_i) + 1/mu_sd^2``
  (the last term absent for a flat prior), ``mu | tau, y ~ N(m(tau), 1/W)``, ``m = sum(w_i y_i) / W``.
* ``p(tau | y) ∝ p(tau) L(tau)`` with the marginal likelihood ``L(tau) = ∫ p(y | mu, tau) p(mu) dmu``
  in closed form (see :func:`_loglik`).
* ``p(tau | y)`` is integrated numerically: in ``u = log(tau)`` (where every prior here is smooth),
  by composite 16-point Gauss-Legendre rules whose panels are halved until the normalising
  constant and the posterior means of ``tau`` and ``mu`` change by less than 1e-11 (relative); the
  stretch ``tau < 1e-8 sqrt(min v_i)``, where ``L(tau)`` equals ``L(0)`` to double precision, is
  one node at ``tau = 0`` carrying the prior mass ``P(tau < 1e-8 sqrt(min v))``.
* Every posterior of interest is then a finite mixture of normals over those nodes: ``mu``
  (components ``N(m_j, 1/W_j)``), a new trial's effect (``N(m_j, 1/W_j + tau_j^2)``) and each
  trial's own effect ``theta_i`` (below). Quantiles solve the mixture CDF by safeguarded Newton
  steps.

Sign convention of the book: a negative effect means the treatment group did better, so
``P(mu < 0)`` is the posterior probability of a benefit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

from . import _checks

# --------------------------------------------------------------------------- priors

#: Rhodes, Turner & Higgins (2015, J Clin Epidemiol 68:52-60, doi:10.1016/j.jclinepi.2014.08.012),
#: Table 3, outcome type "mental health outcome", medical area "other": predictive distribution
#: of the between-study variance of standardized mean differences, ``log(tau^2) ~ t_5(location,
#: scale)``. Read from the stored copy of the bayesmeta R source that reproduces Table 3
#: (cran/bayesmeta, R/bayesmeta.R at commit 135804c5bf0dafcf20b4a19528858ed8621320f7, arrays
#: ``locationmat``/``scalemat`` "see Tab.3", row 6 "mental health outcome").
RHODES_2015_MENTAL_HEALTH = {
    "pharmacological vs placebo/control": (-2.99, 2.16),
    "pharmacological vs pharmacological": (-3.27, 2.14),
    "non-pharmacological (any)": (-3.85, 1.93),
}
RHODES_DF = 5

#: Allowed values of ``tau_prior``. ``"rhodes"`` is the Rhodes et al. (2015) setting
#: "pharmacological vs placebo/control, mental health outcome"; ``"rhodes-nonpharm"`` their
#: "non-pharmacological (any), mental health outcome" (for sensitivity analyses).
TAU_PRIORS = ("half-normal", "half-cauchy", "rhodes", "rhodes-nonpharm", "uniform", "point")

#: Default clinically relevant difference (SMD): the tentative cutoff for clinical relevance in the
#: treatment of depression derived from the minimal important difference by Cuijpers, Turner,
#: Koole, van Dijke & Smit (2014), "What is the threshold for a clinically relevant effect? The
#: case of major depressive disorders", Depress Anxiety 31(5):374-378 (abstract, read in the
#: stored copy at fis.leuphana.de/en/publications/what-is-the-threshold-for-a-clinically-relvent-
#: effect-the-case-of/: "a tentative clinical relevance cutoff of SMD = 0.24").
DELTA_CUIJPERS_2014 = 0.24

# numerical settings (see the module docstring)
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_TAU_LO_FACTOR = 1e-8      # tau below TAU_LO_FACTOR * sqrt(min v): likelihood = likelihood at 0
_TAU_HI_FACTOR = 1e100     # integration stops at tau = 1e100 * data scale at most
_PRIOR_TAIL = 1e-14        # ... or at the prior's (1 - 1e-14) quantile, whichever is smaller
_TRIM = 40.0               # drop the tau range where the log integrand is 40 below its maximum
_QUAD_RTOL = 1e-11
_MAX_PANELS = 2 ** 14


@dataclass(frozen=True)
class _TauPrior:
    """A prior for tau. ``kind`` in TAU_PRIORS; ``a``, ``b`` its parameters."""

    kind: str
    a: float
    b: float = float("nan")

    @property
    def label(self) -> str:
        if self.kind == "half-normal":
            return f"half-normal(scale = {self.a:g})"
        if self.kind == "half-cauchy":
            return f"half-Cauchy(scale = {self.a:g})"
        if self.kind in ("rhodes", "rhodes-nonpharm"):
            setting = ("pharmacological vs placebo/control" if self.kind == "rhodes"
                       else "non-pharmacological")
            return (f"Rhodes et al. 2015 ({setting}, mental health): "
                    f"log(tau^2) ~ t_{RHODES_DF}({self.a:g}, {self.b:g})")
        if self.kind == "uniform":
            return f"uniform(0, {self.a:g})"
        return f"point mass at tau = {self.a:g}"

    def logpdf_u(self, u):
        """Log density of ``u = log(tau)`` (the prior density of tau times tau)."""
        u = np.asarray(u, dtype=float)
        if self.kind == "half-normal":
            with np.errstate(over="ignore"):
                return math.log(2.0) + stats.norm.logpdf(np.exp(u), scale=self.a) + u
        if self.kind == "half-cauchy":
            # log(1 + (tau/a)^2) written as logaddexp(0, 2(u - log a)) to avoid overflow
            la = math.log(self.a)
            return math.log(2.0 / math.pi) - la - np.logaddexp(0.0, 2 * (u - la)) + u
        if self.kind in ("rhodes", "rhodes-nonpharm"):
            # log(tau^2) = 2u ~ t_5(a, b): density of u is 2 * t5pdf((2u - a)/b) / b
            return math.log(2.0 / self.b) + stats.t.logpdf((2 * u - self.a) / self.b, RHODES_DF)
        if self.kind == "uniform":
            return np.where(u <= math.log(self.a), u - math.log(self.a), -np.inf)
        raise AssertionError(self.kind)

    def pdf(self, t):
        """Prior density of tau (``inf`` at 0 for the Rhodes priors, whose density diverges there)."""
        t = np.asarray(t, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.exp(self.logpdf_u(np.log(t))) / t
        if self.kind == "half-normal":
            out = np.where(t == 0, 2 * stats.norm.pdf(0, scale=self.a), out)
        elif self.kind == "half-cauchy":
            out = np.where(t == 0, 2 / (math.pi * self.a), out)
        elif self.kind == "uniform":
            out = np.where(t == 0, 1 / self.a, out)
        else:
            out = np.where(t == 0, np.inf, out)
        return out

    def cdf(self, t: float) -> float:
        if t <= 0:
            return 0.0
        if self.kind == "half-normal":
            return float(special.erf(t / (self.a * math.sqrt(2))))
        if self.kind == "half-cauchy":
            return 2 / math.pi * math.atan(t / self.a)
        if self.kind in ("rhodes", "rhodes-nonpharm"):
            return float(stats.t.cdf((2 * math.log(t) - self.a) / self.b, RHODES_DF))
        if self.kind == "uniform":
            return min(1.0, t / self.a)
        return 1.0 if t >= self.a else 0.0

    def log_quantile(self, p: float) -> float:
        """``log`` of :meth:`quantile` (finite where the quantile itself overflows)."""
        if self.kind in ("rhodes", "rhodes-nonpharm"):
            return (self.a + self.b * float(stats.t.ppf(p, RHODES_DF))) / 2
        q = self.quantile(p)
        return math.log(q) if q > 0 else -math.inf

    def quantile(self, p: float) -> float:
        if self.kind == "half-normal":
            return self.a * float(stats.norm.ppf((1 + p) / 2))
        if self.kind == "half-cauchy":
            return self.a * math.tan(math.pi * p / 2)
        if self.kind in ("rhodes", "rhodes-nonpharm"):
            return math.exp((self.a + self.b * float(stats.t.ppf(p, RHODES_DF))) / 2)
        if self.kind == "uniform":
            return self.a * p
        return self.a


def _make_prior(tau_prior: str, tau_scale) -> _TauPrior:
    if tau_prior not in TAU_PRIORS:
        raise ValueError(f"unknown tau_prior {tau_prior!r}; allowed: {', '.join(TAU_PRIORS)}")
    if tau_prior == "rhodes":
        return _TauPrior("rhodes", *RHODES_2015_MENTAL_HEALTH["pharmacological vs placebo/control"])
    if tau_prior == "rhodes-nonpharm":
        return _TauPrior("rhodes-nonpharm", *RHODES_2015_MENTAL_HEALTH["non-pharmacological (any)"])
    try:
        s = float(tau_scale)
    except (TypeError, ValueError):
        raise ValueError(f"tau_scale must be a number (got {tau_scale!r})") from None
    if tau_prior == "point":
        if not (math.isfinite(s) and s >= 0):
            raise ValueError(f"tau_scale must be finite and >= 0 for a point-mass prior (got {tau_scale!r})")
    elif not (math.isfinite(s) and s > 0):
        raise ValueError(f"tau_scale must be finite and > 0 (got {tau_scale!r})")
    return _TauPrior(tau_prior, s)


def _mu_sd_value(mu_sd, *, allow_none: bool):
    if mu_sd is None:
        if allow_none:
            return None
        raise ValueError("mu_sd must be a positive number here (a proper prior on mu is needed "
                         "for marginal likelihoods)")
    try:
        s = float(mu_sd)
    except (TypeError, ValueError):
        raise ValueError(f"mu_sd must be None or a positive number (got {mu_sd!r})") from None
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"mu_sd must be None or a positive finite number (got {mu_sd!r})")
    return s


# --------------------------------------------------------------------------- likelihood

def _loglik(y, v, tau, mu_sd, *, mu_zero=False):
    """Log marginal likelihood of ``tau`` (vectorised over ``tau``) and the moments of ``mu | tau, y``.

    With ``s2_i = v_i + tau^2``, ``w_i = 1/s2_i``:

    * ``mu`` fixed at 0: ``log N(y; 0, diag(s2))``.
    * ``mu ~ N(0, mu_sd^2)``: ``W = sum w + 1/mu_sd^2``, ``m = sum(w y)/W`` and
      ``log L = -1/2 [k log 2pi + sum log s2 + log mu_sd^2 + log W + sum w (y - m)^2 + m^2/mu_sd^2]``,
      which is ``log N(y; 0, diag(s2) + mu_sd^2 11')`` written without cancellation.
    * flat ``mu``: the same without the ``mu_sd`` terms and with ``(k - 1) log 2pi`` (the improper
      prior's density taken as 1, as in bayesmeta).

    Returns ``(loglik, m, V)`` with ``V = 1/W`` (``m = 0, V = 0`` when ``mu_zero``).
    """
    tau = np.atleast_1d(np.asarray(tau, dtype=float))
    s2 = v[None, :] + (tau ** 2)[:, None]
    w = 1.0 / s2
    k = len(y)
    logdet = np.log(s2).sum(axis=1)
    if mu_zero:
        ll = -0.5 * (k * math.log(2 * math.pi) + logdet + (w * y ** 2).sum(axis=1))
        zeros = np.zeros_like(tau)
        return ll, zeros, zeros
    W = w.sum(axis=1)
    if mu_sd is not None:
        W = W + 1.0 / mu_sd ** 2
    m = (w * y).sum(axis=1) / W
    quad = (w * (y[None, :] - m[:, None]) ** 2).sum(axis=1)
    if mu_sd is None:
        const = (k - 1) * math.log(2 * math.pi)
    else:
        const = k * math.log(2 * math.pi) + 2 * math.log(mu_sd)
        quad = quad + m ** 2 / mu_sd ** 2
    ll = -0.5 * (const + logdet + np.log(W) + quad)
    return ll, m, 1.0 / W


# --------------------------------------------------------------------------- quadrature over tau

@dataclass(frozen=True)
class _TauPosterior:
    """Quadrature nodes of ``p(tau | y)``: ``tau`` (a node at 0 first), normalised ``weight``,
    the log normalising constant ``log_z`` (the log marginal likelihood of the model) and the
    panel layout in ``u = log tau`` for the CDF of tau."""

    tau: np.ndarray
    weight: np.ndarray
    log_z: float
    atom: float            # posterior probability of the node at tau = 0 (tau < tau_lo)
    edges: np.ndarray      # panel edges in u
    panel_mass: np.ndarray  # posterior probability of each panel
    logg: object = field(repr=False)  # log integrand in u (unnormalised)


def _gl_panels(a, b, n_panels):
    edges = np.linspace(a, b, n_panels + 1)
    half = (edges[1:] - edges[:-1]) / 2
    mid = (edges[1:] + edges[:-1]) / 2
    u = (mid[:, None] + half[:, None] * _GL_NODES[None, :]).ravel()
    w = (half[:, None] * _GL_WEIGHTS[None, :]).ravel()
    return edges, u, w


def _tau_posterior(y, v, prior: _TauPrior, mu_sd, *, mu_zero=False) -> _TauPosterior:
    """Integrate ``p(tau) L(tau)`` over ``tau`` (see the module docstring)."""
    def loglik(t):
        return _loglik(y, v, t, mu_sd, mu_zero=mu_zero)[0]

    if prior.kind == "point":
        ll = float(loglik(prior.a)[0])
        return _TauPosterior(tau=np.array([prior.a]), weight=np.array([1.0]), log_z=ll,
                             atom=1.0 if prior.a == 0 else 0.0, edges=np.array([]),
                             panel_mass=np.array([]), logg=None)

    def logg(u):
        u = np.asarray(u, dtype=float)
        return prior.logpdf_u(u) + loglik(np.exp(u))

    tau_lo = _TAU_LO_FACTOR * math.sqrt(float(v.min()))
    scale = max(math.sqrt(float(v.max())), float(np.ptp(y)), float(np.abs(y).max()))
    u_lo = math.log(tau_lo)
    u_hi = min(prior.log_quantile(1 - _PRIOR_TAIL), math.log(_TAU_HI_FACTOR * scale))
    if prior.kind == "uniform":
        u_hi = math.log(prior.a)
    if u_hi <= u_lo + 1e-3:
        # prior support entirely below tau_lo: the likelihood is flat there
        ll0 = float(loglik(0.0)[0])
        return _TauPosterior(tau=np.array([0.0]), weight=np.array([1.0]), log_z=ll0, atom=1.0,
                             edges=np.array([]), panel_mass=np.array([]), logg=logg)

    # coarse scan to find where the integrand lives
    n_coarse = int(min(max(math.ceil((u_hi - u_lo) / 0.25), 64), 4000))
    uc = np.linspace(u_lo, u_hi, n_coarse + 1)
    gc = logg(uc)
    keep = np.flatnonzero(gc > gc.max() - _TRIM)
    a = uc[max(keep[0] - 1, 0)]
    b = uc[min(keep[-1] + 1, n_coarse)]

    # left stretch [0, tau_lo]: likelihood flat, mass = L(0) * P(tau < tau_lo)
    p_lo = prior.cdf(tau_lo)
    log_atom = float(loglik(0.0)[0]) + math.log(p_lo) if p_lo > 0 else -np.inf

    # panels halved until two successive rules agree; the coarser of the two is kept (its error
    # is about the difference between them, as the finer rule's error is far smaller)
    n_panels = max(2, int(math.ceil((b - a) / 2.0)))
    prev = None
    while True:
        edges, u, w = _gl_panels(a, b, n_panels)
        lw = np.log(w) + logg(u)
        all_lw = np.concatenate([[log_atom], lw])
        log_z = float(special.logsumexp(all_lw))
        wt = np.exp(all_lw - log_z)
        tau = np.concatenate([[0.0], np.exp(u)])
        _, m, _ = _loglik(y, v, tau, mu_sd, mu_zero=mu_zero)
        summary = np.array([log_z, float(wt @ tau), float(wt @ m)])
        current = (edges, wt, tau, log_z, n_panels)
        if prev is not None:
            diff = np.abs(summary - prev[0])
            # relative to the value, or to the data's scale when the value is near 0
            tol = _QUAD_RTOL * np.maximum(np.abs(summary[1:]), 1e-3 * scale)
            if diff[0] < _QUAD_RTOL and np.all(diff[1:] <= tol):
                edges, wt, tau, log_z, n_panels = prev[1]
                break
            if n_panels >= _MAX_PANELS:  # not reached in any test; keep the finest rule
                break
        prev = (summary, current)
        n_panels *= 2
    panel_mass = wt[1:].reshape(n_panels, -1).sum(axis=1)
    return _TauPosterior(tau=tau, weight=wt, log_z=log_z, atom=float(wt[0]), edges=edges,
                         panel_mass=panel_mass, logg=logg)


def _tau_quantile(post: _TauPosterior, p: float) -> float:
    """Quantile of ``p(tau | y)``: the panel where the CDF crosses ``p``, then a root of the CDF
    within it, each CDF value by a 16-point Gauss-Legendre rule from the panel's left edge."""
    if post.logg is None or post.edges.size == 0:
        return float(post.tau[np.searchsorted(np.cumsum(post.weight), p)]) if post.tau.size > 1 \
            else float(post.tau[0])
    if p <= post.atom:
        return 0.0
    cum = post.atom + np.cumsum(post.panel_mass)
    j = int(np.searchsorted(cum, p))
    j = min(j, len(post.panel_mass) - 1)
    before = cum[j - 1] if j > 0 else post.atom
    c, d = post.edges[j], post.edges[j + 1]
    target = p - before
    log_z = post.log_z

    def mass(x):
        half = (x - c) / 2
        uu = (c + x) / 2 + half * _GL_NODES
        return float(np.sum(half * _GL_WEIGHTS * np.exp(post.logg(uu) - log_z)))

    from scipy.optimize import brentq

    if target <= 0:
        return float(math.exp(c))
    if mass(d) <= target:
        return float(math.exp(d))
    x = brentq(lambda x: mass(x) - target, c, d, xtol=1e-14, rtol=1e-13)
    return float(math.exp(x))


# --------------------------------------------------------------------------- normal mixtures

def _mixture_cdf(x, weight, mean, sd):
    """``sum_j weight_j Phi((x - mean_j)/sd_j)``; ``x`` shape (Q,), ``mean``/``sd`` (N,) or (Q, N).
    A component with ``sd = 0`` is a point mass (its CDF is 1 at and right of its mean)."""
    x = np.asarray(x, dtype=float)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (x - mean) / sd
    z = np.where(sd > 0, z, np.where(x >= mean, np.inf, -np.inf))
    return (weight * special.ndtr(z)).sum(axis=-1)


def _weighted_median(values, weight):
    """Row-wise weighted median of ``values`` (Q, N) with weights (N,)."""
    order = np.argsort(values, axis=1)
    cw = np.cumsum(weight[order], axis=1)
    idx = (cw < 0.5 * cw[:, -1:]).sum(axis=1)
    return np.take_along_axis(values, order, axis=1)[np.arange(values.shape[0]), idx]


def _mixture_quantile(p, weight, mean, sd):
    """Quantiles of normal mixtures, vectorised over rows. ``p`` (Q,); ``mean``, ``sd`` (N,) or
    (Q, N); all ``sd > 0``.

    Start at the weighted median of the component means; step out by doubling multiples of the
    weighted median component SD until the CDF brackets ``p`` (robust to components with huge
    SDs, as when a heavy-tailed tau prior meets one trial); then safeguarded Newton steps
    (bisection when a step leaves the bracket) until a step is below 1e-13 of
    ``max(|x|, median SD)``.
    """
    p = np.atleast_1d(np.asarray(p, dtype=float))
    mean = np.broadcast_to(mean, (p.size, np.shape(mean)[-1]))
    sd = np.broadcast_to(sd, mean.shape)
    x0 = _weighted_median(mean, weight)
    d = _weighted_median(sd, weight)

    def cdf(x, rows):
        return (weight * special.ndtr((x[:, None] - mean[rows]) / sd[rows])).sum(axis=1)

    rows = np.arange(p.size)
    F0 = cdf(x0, rows)
    lo = np.where(F0 <= p, x0, -np.inf)
    hi = np.where(F0 >= p, x0, np.inf)
    step = d.copy()
    for _ in range(2100):  # doubling from d reaches any finite float
        need_lo = ~np.isfinite(lo)
        need_hi = ~np.isfinite(hi)
        if not (need_lo.any() or need_hi.any()):
            break
        for need, sign in ((need_lo, -1.0), (need_hi, 1.0)):
            r = rows[need]
            if r.size:
                cand = x0[r] + sign * step[r]
                Fc = cdf(cand, r)
                if sign < 0:
                    ok = Fc <= p[r]
                    lo[r[ok]] = cand[ok]
                    hi[r[~ok]] = np.minimum(hi[r[~ok]], cand[~ok])
                else:
                    ok = Fc >= p[r]
                    hi[r[ok]] = cand[ok]
                    lo[r[~ok]] = np.maximum(lo[r[~ok]], cand[~ok])
        step = step * 2
    x = np.where(np.isfinite(lo) & np.isfinite(hi), (lo + hi) / 2, x0)
    x = np.where(F0 == p, x0, x)
    active = rows[F0 != p]
    for _ in range(300):
        if active.size == 0:
            break
        z = (x[active, None] - mean[active]) / sd[active]
        F = (weight * special.ndtr(z)).sum(axis=1) - p[active]
        f = (weight * np.exp(-0.5 * z ** 2) / (sd[active] * math.sqrt(2 * math.pi))).sum(axis=1)
        lo[active] = np.where(F < 0, x[active], lo[active])
        hi[active] = np.where(F > 0, x[active], hi[active])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            new = x[active] - F / f
        bad = ~((new > lo[active]) & (new < hi[active])) | ~np.isfinite(new)
        new = np.where(bad, (lo[active] + hi[active]) / 2, new)
        tol = 1e-13 * np.maximum(np.abs(new), d[active])
        done = (np.abs(new - x[active]) <= tol) | (F == 0) | (hi[active] - lo[active] <= tol)
        x[active] = new
        active = active[~done]
    return x


def _shrinkage(y, v, tau, m, V):
    """Moments of each ``theta_i | tau, y`` (rows: nodes, columns: trials).

    With ``B_i = v_i / (v_i + tau^2)``: ``E = (1 - B_i) y_i + B_i m``,
    ``Var = (1 - B_i) v_i + B_i^2 V`` (``theta_i = mu`` when ``tau = 0``).
    """
    B = v[None, :] / (v[None, :] + (tau ** 2)[:, None])
    mean = (1 - B) * y[None, :] + B * m[:, None]
    var = (1 - B) * v[None, :] + B ** 2 * V[:, None]
    return mean, var


# --------------------------------------------------------------------------- bayes_pool

@dataclass(frozen=True)
class BayesResult:
    """Posterior summaries of the Bayesian random-effects model (see :func:`bayes_pool`).

    Intervals are central (equal-tailed) credible intervals at ``level``; ``pred_low``/``pred_high``
    bound the posterior predictive interval for the true effect in a new trial. ``prob_benefit``
    is ``P(mu < 0 | y)``, ``prob_relevant`` is ``P(mu < -delta | y)``. ``theta_*`` are the shrunken
    estimates of each trial's own effect (input order). ``tau_grid``, ``tau_prior_density`` and
    ``tau_posterior_density`` are for plotting the prior and posterior of tau.
    """

    mu_median: float
    mu_low: float
    mu_high: float
    mu_mean: float
    mu_sd: float
    tau_median: float
    tau_low: float
    tau_high: float
    tau_mean: float
    tau_sd: float
    pred_low: float
    pred_high: float
    prob_benefit: float
    prob_relevant: float
    delta: float
    k: int
    level: float
    tau_prior: str
    tau_scale: float
    mu_prior_sd: float | None
    log_marginal_likelihood: float
    theta_mean: np.ndarray = field(repr=False)
    theta_median: np.ndarray = field(repr=False)
    theta_low: np.ndarray = field(repr=False)
    theta_high: np.ndarray = field(repr=False)
    tau_grid: np.ndarray = field(repr=False)
    tau_prior_density: np.ndarray = field(repr=False)
    tau_posterior_density: np.ndarray = field(repr=False)
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    labels: tuple = field(repr=False)
    prior_label: str = field(repr=False, default="")
    mix_weight: np.ndarray = field(repr=False, default=None)
    mix_mean: np.ndarray = field(repr=False, default=None)
    mix_sd: np.ndarray = field(repr=False, default=None)
    mix_tau: np.ndarray = field(repr=False, default=None)

    def prob_below(self, x):
        """Posterior probability ``P(mu < x | y)`` (``x`` a number or an array)."""
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        out = _mixture_cdf(xs, self.mix_weight, self.mix_mean, self.mix_sd)
        return float(out[0]) if np.ndim(x) == 0 else out

    def mu_quantile(self, p):
        """Posterior quantile(s) of ``mu``."""
        ps = np.atleast_1d(np.asarray(p, dtype=float))
        if np.any((ps <= 0) | (ps >= 1)):
            raise ValueError("p must lie strictly between 0 and 1")
        out = _mixture_quantile(ps, self.mix_weight, self.mix_mean, self.mix_sd)
        return float(out[0]) if np.ndim(p) == 0 else out

    @property
    def prob_harm(self) -> float:
        """``P(mu > 0 | y)``."""
        return 1.0 - self.prob_benefit

    def __str__(self) -> str:
        return format_bayes(self)

    def to_frame(self):
        """One-row table of the main numbers."""
        import pandas as pd

        return pd.DataFrame([{
            "tau_prior": self.prior_label, "mu_prior_sd": self.mu_prior_sd, "k": self.k,
            "mu_median": self.mu_median, "mu_low": self.mu_low, "mu_high": self.mu_high,
            "mu_mean": self.mu_mean, "mu_sd": self.mu_sd, "tau_median": self.tau_median,
            "tau_low": self.tau_low, "tau_high": self.tau_high, "pred_low": self.pred_low,
            "pred_high": self.pred_high, "prob_benefit": self.prob_benefit,
            "delta": self.delta, "prob_relevant": self.prob_relevant,
        }])

    def shrinkage_frame(self):
        """The trials' own effects: observed ``yi`` beside the posterior mean, median and interval."""
        import pandas as pd

        return pd.DataFrame({"study": list(self.labels), "yi": self.yi, "vi": self.vi,
                             "theta_mean": self.theta_mean, "theta_median": self.theta_median,
                             "theta_low": self.theta_low, "theta_high": self.theta_high})


def bayes_pool(yi, vi, *, tau_prior="half-normal", tau_scale=0.5, mu_sd=None, level=0.95,
               delta=DELTA_CUIJPERS_2014, labels=None):
    """Bayesian random-effects meta-analysis by numerical integration (no MCMC).

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes (SMD; negative = benefit) and their sampling variances (> 0).
    tau_prior : {"half-normal", "half-cauchy", "rhodes", "rhodes-nonpharm", "uniform", "point"}
        Prior for the between-trial standard deviation ``tau``:

        * ``"half-normal"``: ``tau ~ |N(0, tau_scale^2)|``. The default ``tau_scale = 0.5`` is the
          weakly informative prior that Friede et al. (2017) recommend for few trials ("half-normal
          priors (with a scale of 0.5 or 1.0) for log odds ratios"). An SMD is about a log odds
          ratio divided by 1.81 (Chinn 2000, Stat Med 19:3127), so on the SMD scale the same scale
          is more generous to heterogeneity: prior median ``tau`` 0.34, 95th percentile 0.98.
        * ``"half-cauchy"``: ``tau ~ |Cauchy(0, tau_scale)|`` (heavier tail).
        * ``"rhodes"``: the empirical predictive distribution of Rhodes, Turner & Higgins (2015,
          Table 3) for SMD meta-analyses of a *mental health outcome* comparing a
          *pharmacological intervention with placebo/control*: ``log(tau^2) ~ t_5(-2.99, 2.16)``
          (median ``tau`` 0.22). Chosen because the trials compare a product taken as capsules or
          sachets (probiotic, prebiotic, synbiotic) with an identical-looking placebo, which is the
          design of a pharmacological-vs-placebo trial, on depression/anxiety scales; the
          "non-pharmacological" setting (``"rhodes-nonpharm"``, ``t_5(-3.85, 1.93)``) is offered
          for sensitivity. ``tau_scale`` is ignored.
        * ``"uniform"``: ``tau ~ U(0, tau_scale)``.
        * ``"point"``: ``tau = tau_scale`` exactly (the fixed-tau2 random-effects model; used for
          the limit tests).
    tau_scale : float
        Scale of the half-normal/half-Cauchy prior, upper bound of the uniform, value of the point.
    mu_sd : float or None
        ``None``: flat (improper uniform) prior on ``mu``; a number: ``mu ~ N(0, mu_sd^2)``.
    level : float
        Credibility level of the central intervals.
    delta : float
        Clinically relevant difference (>= 0); ``prob_relevant = P(mu < -delta)``. Default 0.24,
        the tentative clinical-relevance cutoff for depression of Cuijpers et al. (2014).
    labels : sequence of str, optional

    Returns
    -------
    BayesResult

    Notes
    -----
    Given ``tau``, ``mu | tau, y ~ N(m, 1/W)`` with ``w_i = 1/(v_i + tau^2)``,
    ``W = sum w_i (+ 1/mu_sd^2)``, ``m = sum(w_i y_i)/W``; ``p(tau | y) ∝ p(tau) L(tau)`` with the
    closed-form marginal likelihood of :func:`_loglik`. ``p(tau | y)`` is integrated by adaptive
    composite Gauss-Legendre quadrature in ``log tau`` (module docstring); the posterior of ``mu``
    is the resulting normal mixture, that of a new trial's effect the mixture of
    ``N(m, 1/W + tau^2)``, that of trial ``i``'s effect the mixture of
    ``N((1-B_i) y_i + B_i m, (1-B_i) v_i + B_i^2/W)`` with ``B_i = v_i/(v_i + tau^2)``.
    Quantiles solve the mixture CDF. With ``tau_prior="point"`` and ``mu_sd=None`` the posterior of
    ``mu`` is ``N(m, 1/W)``: the random-effects estimate and standard error at that ``tau^2``
    (``metafor::rma(yi, vi, tau2=tau_scale^2)``). ``log_marginal_likelihood`` is
    ``log p(y)`` (NaN for the improper flat prior on ``mu``).
    The computation is that of the bayesmeta R package (``bayesmeta(y, sigma, tau.prior=...,
    mu.prior=...)``), except that the intervals here are central, not shortest.

    References
    ----------
    Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
    J Stat Softw 93(6), doi:10.18637/jss.v093.i06. Friede T, Röver C, Wandel S, Neuenschwander B
    (2017). Meta-analysis of few small studies in orphan diseases. Res Synth Methods 8:79-91,
    doi:10.1002/jrsm.1217. Rhodes KM, Turner RM, Higgins JPT (2015). J Clin Epidemiol 68:52-60,
    doi:10.1016/j.jclinepi.2014.08.012. Cuijpers P, Turner EH, Koole SL, van Dijke A, Smit F
    (2014). Depress Anxiety 31:374-378.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    level = _checks.level_value(level)
    prior = _make_prior(tau_prior, tau_scale)
    mu_sd = _mu_sd_value(mu_sd, allow_none=True)
    try:
        delta = float(delta)
    except (TypeError, ValueError):
        raise ValueError(f"delta must be a number >= 0 (got {delta!r})") from None
    if not (math.isfinite(delta) and delta >= 0):
        raise ValueError(f"delta must be a finite number >= 0 (got {delta!r})")

    post = _tau_posterior(y, v, prior, mu_sd)
    # prune nodes that carry no probability
    keep = post.weight > post.weight.max() * 1e-22
    tau, wt = post.tau[keep], post.weight[keep]
    wt = wt / wt.sum()
    _, m, V = _loglik(y, v, tau, mu_sd)
    sd_mu = np.sqrt(V)
    sd_pred = np.sqrt(V + tau ** 2)

    a = (1 - level) / 2
    probs = np.array([a, 0.5, 1 - a])
    mu_q = _mixture_quantile(probs, wt, m, sd_mu)
    pred_q = _mixture_quantile(np.array([a, 1 - a]), wt, m, sd_pred)
    mu_mean = float(wt @ m)
    mu_var = float(wt @ (V + m ** 2)) - mu_mean ** 2

    tmean, tvar = _shrinkage(y, v, tau, m, V)
    k = len(y)
    th_mean = wt @ tmean
    q_rows = np.repeat(probs, k)
    th_q = _mixture_quantile(q_rows, wt, np.tile(tmean.T, (3, 1)), np.tile(np.sqrt(tvar).T, (3, 1)))
    th_q = th_q.reshape(3, k)

    if prior.kind == "point":
        tau_q = np.array([prior.a] * 3)
        tau_mean, tau_sd = prior.a, 0.0
        grid = np.array([prior.a])
        prior_dens = np.array([np.nan])
        post_dens = np.array([np.nan])
    else:
        tau_q = np.array([_tau_quantile(post, p) for p in probs])
        tau_mean = float(post.weight @ post.tau)
        tau_sd = math.sqrt(max(float(post.weight @ post.tau ** 2) - tau_mean ** 2, 0.0))
        tmax = 1.1 * max(_tau_quantile(post, 0.995), prior.quantile(0.5))
        if prior.kind == "uniform":
            tmax = min(tmax, prior.a)
        grid = np.linspace(0.0, tmax, 401)
        if prior.kind in ("rhodes", "rhodes-nonpharm"):
            grid[0] = tmax / 4000  # the Rhodes prior density diverges at 0
        prior_dens = prior.pdf(grid)
        with np.errstate(divide="ignore"):
            ll = _loglik(y, v, grid, mu_sd)[0]
        post_dens = np.where(prior_dens > 0, prior_dens * np.exp(ll - post.log_z), 0.0)

    return BayesResult(
        mu_median=float(mu_q[1]), mu_low=float(mu_q[0]), mu_high=float(mu_q[2]),
        mu_mean=mu_mean, mu_sd=math.sqrt(max(mu_var, 0.0)),
        tau_median=float(tau_q[1]), tau_low=float(tau_q[0]), tau_high=float(tau_q[2]),
        tau_mean=float(tau_mean), tau_sd=float(tau_sd),
        pred_low=float(pred_q[0]), pred_high=float(pred_q[1]),
        prob_benefit=float(_mixture_cdf(np.array([0.0]), wt, m, sd_mu)[0]),
        prob_relevant=float(_mixture_cdf(np.array([-delta]), wt, m, sd_mu)[0]),
        delta=delta, k=k, level=level, tau_prior=prior.kind,
        tau_scale=float(prior.a) if prior.kind not in ("rhodes", "rhodes-nonpharm") else float("nan"),
        mu_prior_sd=mu_sd,
        log_marginal_likelihood=float(post.log_z) if mu_sd is not None else float("nan"),
        theta_mean=th_mean, theta_median=th_q[1], theta_low=th_q[0], theta_high=th_q[2],
        tau_grid=grid, tau_prior_density=prior_dens, tau_posterior_density=post_dens,
        yi=y, vi=v, labels=tuple(labs), prior_label=prior.label,
        mix_weight=wt, mix_mean=m, mix_sd=sd_mu, mix_tau=tau,
    )


# --------------------------------------------------------------------------- model averaging

#: The four models of :func:`bayes_model_average` (Gronau et al. 2017; Bartoš et al. 2021).
MODEL_NAMES = ("no effect, no heterogeneity", "no effect, heterogeneity",
               "effect, no heterogeneity", "effect, heterogeneity")


@dataclass(frozen=True)
class BayesModelAverage:
    """Bayesian model-averaged meta-analysis (see :func:`bayes_model_average`).

    ``posterior_probs``, ``prior_probs`` and ``log_marginal_likelihoods`` map the names in
    :data:`MODEL_NAMES` to numbers. ``bf_effect`` and ``bf_heterogeneity`` are inclusion Bayes
    factors (> 1 favours an effect / heterogeneity; ``inf`` beyond the float range, when the
    ``log_bf_*`` fields still hold the value). ``mu_median``, ``mu_low``, ``mu_high`` summarise
    the model-averaged posterior of ``mu``, which has a point mass ``1 - prob_effect`` at 0.
    """

    bf_effect: float
    bf_heterogeneity: float
    log_bf_effect: float
    log_bf_heterogeneity: float
    posterior_probs: dict
    prior_probs: dict
    log_marginal_likelihoods: dict
    prob_effect: float
    prob_heterogeneity: float
    mu_median: float
    mu_low: float
    mu_high: float
    k: int
    level: float
    tau_prior: str
    tau_scale: float
    mu_prior_sd: float
    prior_label: str = field(repr=False, default="")
    mix_weight: np.ndarray = field(repr=False, default=None)
    mix_mean: np.ndarray = field(repr=False, default=None)
    mix_sd: np.ndarray = field(repr=False, default=None)

    def prob_below(self, x):
        """Model-averaged ``P(mu < x | y)`` (the point mass at 0 counts for ``x > 0``)."""
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        cont = _mixture_cdf(xs, self.mix_weight, self.mix_mean, self.mix_sd)
        out = cont + (1 - self.prob_effect) * (xs > 0)
        return float(out[0]) if np.ndim(x) == 0 else out

    def mu_quantile(self, p):
        """Model-averaged quantile ``inf{x : P(mu <= x | y) >= p}`` (0 when ``p`` falls in the jump)."""
        ps = np.atleast_1d(np.asarray(p, dtype=float))
        if np.any((ps <= 0) | (ps >= 1)):
            raise ValueError("p must lie strictly between 0 and 1")
        out = _averaged_quantile(ps, 1 - self.prob_effect, self.mix_weight, self.mix_mean,
                                 self.mix_sd)
        return float(out[0]) if np.ndim(p) == 0 else out

    def __str__(self) -> str:
        return format_bma(self)

    def to_frame(self):
        """One row per model: prior and posterior probability, log marginal likelihood."""
        import pandas as pd

        return pd.DataFrame({"model": list(MODEL_NAMES),
                             "prior_prob": [self.prior_probs[n] for n in MODEL_NAMES],
                             "posterior_prob": [self.posterior_probs[n] for n in MODEL_NAMES],
                             "log_marginal_likelihood": [self.log_marginal_likelihoods[n]
                                                         for n in MODEL_NAMES]})


def _averaged_quantile(ps, mass0, weight, mean, sd):
    """Quantiles of ``mass0 * delta_0 + (continuous normal mixture of total mass 1 - mass0)``."""
    cont_total = 1.0 - mass0
    out = np.zeros_like(ps)
    if cont_total <= 0:
        return out
    c0 = float(_mixture_cdf(np.array([0.0]), weight, mean, sd)[0])  # continuous mass below 0
    wn = weight / cont_total
    for i, p in enumerate(ps):
        if p <= c0:
            out[i] = _mixture_quantile(np.array([p / cont_total]), wn, mean, sd)[0]
        elif p <= c0 + mass0:
            out[i] = 0.0
        else:
            out[i] = _mixture_quantile(np.array([(p - mass0) / cont_total]), wn, mean, sd)[0]
    return out


def bayes_model_average(yi, vi, *, tau_prior="half-normal", tau_scale=0.5, mu_sd=1.0, level=0.95,
                        labels=None):
    """Bayesian model averaging over effect/no effect and heterogeneity/no heterogeneity.

    Four models with prior probability 1/4 each (Gronau et al. 2017; Bartoš et al. 2021):
    ``mu = 0`` or ``mu ~ N(0, mu_sd^2)``, crossed with ``tau = 0`` or ``tau ~`` the prior of
    :func:`bayes_pool` (same ``tau_prior``, ``tau_scale``). Their marginal likelihoods ``p(y | M)``:

    * ``mu = 0, tau = 0``: ``N(y; 0, diag(v))``;
    * ``mu ~ N(0, s^2), tau = 0``: ``N(y; 0, diag(v) + s^2 11')``;
    * with ``tau ~ p(tau)``: ``∫ p(tau) p(y | tau) dtau`` by the quadrature of :func:`bayes_pool`.

    Posterior model probabilities are ``p(y | M) / sum p(y | M')`` (log-sum-exp). Inclusion Bayes
    factors: ``bf_effect = [P(M_10) + P(M_11)] / [P(M_00) + P(M_01)]`` (posterior odds of an
    effect, the prior odds being 1), ``bf_heterogeneity`` likewise for ``tau > 0``.

    The model-averaged posterior of ``mu`` is ``P(no effect | y) delta_0 + P(M_10 | y) p(mu | M_10, y)
    + P(M_11 | y) p(mu | M_11, y)``. Its CDF jumps at 0, so its quantiles are defined as
    ``q(p) = inf{x : F(x) >= p}``: ``mu_median`` is exactly 0 whenever the point mass covers the
    50% point, and a credible bound is 0 when its tail probability falls into the jump.

    ``mu_sd`` must be a positive number (Bayes factors need a proper prior on ``mu``). The default
    ``N(0, 1)`` on the SMD scale is weakly informative (95% prior mass within ±1.96); Bayes factors
    for the effect depend on it, so a chapter should show a sensitivity analysis.

    References
    ----------
    Gronau QF, van Erp S, Heck DW, Cesario J, Jonas KJ, Wagenmakers E-J (2017). A Bayesian
    model-averaged meta-analysis of the power pose effect. Compr Results Soc Psychol 2:123-138.
    Bartoš F, Gronau QF, Timmers B, Otte WM, Ly A, Wagenmakers E-J (2021). Bayesian model-averaged
    meta-analysis in medicine. Stat Med 40:6743-6761.
    """
    y, v, labs = _checks.effects(yi, vi, labels)
    level = _checks.level_value(level)
    prior = _make_prior(tau_prior, tau_scale)
    mu_sd = _mu_sd_value(mu_sd, allow_none=False)

    ll00 = float(_loglik(y, v, 0.0, None, mu_zero=True)[0][0])
    ll10, m10, V10 = (float(a[0]) for a in _loglik(y, v, 0.0, mu_sd))
    post01 = _tau_posterior(y, v, prior, None, mu_zero=True)
    post11 = _tau_posterior(y, v, prior, mu_sd)
    logml = np.array([ll00, post01.log_z, ll10, post11.log_z])
    logpost = logml - special.logsumexp(logml)
    pp = np.exp(logpost)
    p_effect = pp[2] + pp[3]
    p_het = pp[1] + pp[3]
    # log-odds differences computed from logs, stable when one side is tiny
    log_bf_effect = float(special.logsumexp(logml[2:]) - special.logsumexp(logml[:2]))
    log_bf_het = float(special.logsumexp(logml[[1, 3]]) - special.logsumexp(logml[[0, 2]]))
    with np.errstate(over="ignore"):
        bf_effect = float(np.exp(log_bf_effect))
        bf_het = float(np.exp(log_bf_het))

    keep = post11.weight > post11.weight.max() * 1e-22
    tau11, w11 = post11.tau[keep], post11.weight[keep] / post11.weight[keep].sum()
    _, m11, V11 = _loglik(y, v, tau11, mu_sd)
    weight = np.concatenate([[pp[2]], pp[3] * w11])
    mean = np.concatenate([[m10], m11])
    sd = np.sqrt(np.concatenate([[V10], V11]))
    a = (1 - level) / 2
    q = _averaged_quantile(np.array([a, 0.5, 1 - a]), 1 - p_effect, weight, mean, sd)

    names = MODEL_NAMES
    return BayesModelAverage(
        bf_effect=bf_effect, bf_heterogeneity=bf_het, log_bf_effect=log_bf_effect,
        log_bf_heterogeneity=log_bf_het,
        posterior_probs={n: float(p) for n, p in zip(names, pp)},
        prior_probs={n: 0.25 for n in names},
        log_marginal_likelihoods={n: float(x) for n, x in zip(names, logml)},
        prob_effect=float(p_effect), prob_heterogeneity=float(p_het),
        mu_median=float(q[1]), mu_low=float(q[0]), mu_high=float(q[2]), k=len(y), level=level,
        tau_prior=prior.kind,
        tau_scale=float(prior.a) if prior.kind not in ("rhodes", "rhodes-nonpharm") else float("nan"),
        mu_prior_sd=mu_sd, prior_label=prior.label, mix_weight=weight, mix_mean=mean, mix_sd=sd,
    )


# --------------------------------------------------------------------------- printing

def _f(x, d=4):
    return "NA" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def format_bayes(r: BayesResult) -> str:
    """Print a :class:`BayesResult` in the manner of metafor's ``print.rma.uni``."""
    pct = f"{r.level * 100:g}%"
    mu_prior = "flat (improper uniform)" if r.mu_prior_sd is None else f"normal(0, sd = {r.mu_prior_sd:g})"
    lines = [
        f"Bayesian Random-Effects Model (k = {r.k}; numerical integration, no MCMC)",
        "",
        f"tau prior: {r.prior_label}",
        f"mu prior:  {mu_prior}",
        "",
        f"tau (between-trial SD), posterior median:   {_f(r.tau_median)}",
        f"  {pct} credible interval (central):       {_f(r.tau_low)} to {_f(r.tau_high)}",
        f"tau^2 (between-trial variance), median:     {_f(r.tau_median ** 2)}",
        "",
        "Model Results (posterior of mu):",
        "",
        f"{'median':>9} {'mean':>8} {'sd':>8} {'cri.lb':>8} {'cri.ub':>8}",
        f"{r.mu_median:9.4f} {r.mu_mean:8.4f} {r.mu_sd:8.4f} {r.mu_low:8.4f} {r.mu_high:8.4f}",
        f"predictive interval (new trial's effect): {_f(r.pred_low)} to {_f(r.pred_high)}",
        f"P(mu < 0)     = {r.prob_benefit:.4f} (benefit)",
        f"P(mu < -{r.delta:g}) = {r.prob_relevant:.4f} (clinically relevant benefit)",
    ]
    return "\n".join(lines)


def format_bma(r: BayesModelAverage) -> str:
    """Print a :class:`BayesModelAverage` as a small table of models and Bayes factors."""
    pct = f"{r.level * 100:g}%"
    lines = [
        f"Bayesian Model-Averaged Meta-Analysis (k = {r.k}; 4 models, equal prior probabilities)",
        "",
        f"tau prior (heterogeneity models): {r.prior_label}",
        f"mu prior (effect models):         normal(0, sd = {r.mu_prior_sd:g})",
        "",
        f"{'model':32} {'prior':>6} {'posterior':>10} {'log p(y|M)':>11}",
    ]
    for n in MODEL_NAMES:
        lines.append(f"{n:32} {r.prior_probs[n]:6.2f} {r.posterior_probs[n]:10.4f} "
                     f"{r.log_marginal_likelihoods[n]:11.4f}")
    lines += [
        "",
        f"Inclusion Bayes factor, effect:        {r.bf_effect:.4g}  (P(effect | y) = {r.prob_effect:.4f})",
        f"Inclusion Bayes factor, heterogeneity: {r.bf_heterogeneity:.4g}  "
        f"(P(heterogeneity | y) = {r.prob_heterogeneity:.4f})",
        f"Model-averaged mu: median {_f(r.mu_median)}, {pct} credible interval "
        f"{_f(r.mu_low)} to {_f(r.mu_high)} (point mass {1 - r.prob_effect:.4f} at 0)",
    ]
    return "\n".join(lines)
