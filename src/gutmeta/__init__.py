"""gutmeta: the helper package of the book on gut-targeted treatments for depression.

One module per concern: ``evidence`` (loading and validating ``data/``), ``effects`` (effect
sizes and conversions), ``routes`` (every accepted route from printed numbers to an effect size),
``extract`` (which route each trial takes, under ``Choices``), ``pooling``, ``bayes``,
``heterogeneity``, ``subgroups``, ``regression``, ``bias``, ``grade``, ``prisma``, ``audit``,
``multiverse``, ``plots``, ``report``, ``display`` and ``explore``. The names below are the public API.
"""
from .bayes import BayesModelAverage, BayesResult, bayes_model_average, bayes_pool
from .bias import egger_test, funnel_contours, funnel_data, pet_peese, rank_test, trim_and_fill
from .effects import (check_shared_controls, combine_arms, hedges_j, mean_sd_from_median_iqr,
                      mean_sd_from_median_range, orient, sd_from_ci, sd_from_se, smd, smd_change,
                      smd_from_t, split_control, t_from_f, t_from_p)
from .heterogeneity import baujat, gosh, influence, leave_one_out
from .pooling import ConvergenceWarning, PoolResult, estimate_tau2, pool, tau2_profile_ci
from .regression import meta_regression, permutation_test
from .report import fmt_ci, fmt_est, fmt_p, fmt_pct
from .subgroups import subgroups
from .evidence import EvidenceError, load_evidence
from .extract import Choices, coverage, effect_table, screening_counts
from . import audit, bayes, explore, multiverse, plots, report  # noqa: E402
from . import display, grade, prisma, routes  # noqa: E402

__version__ = "0.1.0"
