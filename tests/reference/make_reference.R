# Reference values for gutmeta's tests, computed with R's metafor.
#
# Regenerate (needs Debian packages r-base-core r-cran-metafor):
#     Rscript tests/reference/make_reference.R
# It writes tests/reference/datasets/*.csv (the inputs) and tests/reference/metafor_reference.csv
# (long format: dataset, analysis, method, test, quantity, index, value; values with %.17g).
# CI does not need R: the tests read the committed CSV files. The diff of a regeneration shows what moved.

suppressMessages(library(metafor))
ctrl <- list(tol = 1e-12, threshold = 1e-12, maxiter = 10000)
out_dir <- file.path("tests", "reference")
dir.create(file.path(out_dir, "datasets"), showWarnings = FALSE, recursive = TRUE)

rows <- list()
add <- function(dataset, analysis, method, test, quantity, value, index = NA) {
  value <- as.numeric(value)
  if (length(index) == 1 && is.na(index) && length(value) > 1) index <- seq_along(value)
  rows[[length(rows) + 1]] <<- data.frame(dataset = dataset, analysis = analysis, method = method,
    test = test, quantity = quantity, index = index, value = sprintf("%.17g", value),
    stringsAsFactors = FALSE)
}

# ---------------------------------------------------------------- datasets
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg <- data.frame(study = paste(bcg$author, bcg$year), yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi),
                  ablat = bcg$ablat, year = bcg$year, alloc = bcg$alloc)

nor <- dat.normand1999
nor_es <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
                 data = nor)
nor <- data.frame(study = paste(nor$source, nor$study), m1i = nor$m1i, sd1i = nor$sd1i, n1i = nor$n1i,
                  m2i = nor$m2i, sd2i = nor$sd2i, n2i = nor$n2i, yi = as.numeric(nor_es$yi),
                  vi = as.numeric(nor_es$vi))

bd <- dat.bangertdrowns2004
bd <- bd[!is.na(bd$yi) & !is.na(bd$vi), ]
bd <- data.frame(study = paste(bd$author, bd$year, bd$id), yi = bd$yi, vi = bd$vi, length = bd$length,
                 grade = bd$grade)

rau <- dat.raudenbush1985
rau <- data.frame(study = paste(rau$author, rau$year, rau$study), yi = as.numeric(rau$yi),
                  vi = as.numeric(rau$vi), weeks = rau$weeks)

# homogeneous toy data: Q < k - 1, so every estimator gives tau2 = 0
homog <- data.frame(study = paste("toy", 1:4), yi = c(0.10, 0.12, 0.11, 0.13), vi = c(0.10, 0.12, 0.08, 0.20))

datasets <- list(bcg = bcg, normand1999 = nor, bangertdrowns2004 = bd, raudenbush1985 = rau, homog = homog)
for (nm in names(datasets)) write.csv(datasets[[nm]], file.path(out_dir, "datasets", paste0(nm, ".csv")),
                                      row.names = FALSE)

# escalc SMD from arm summaries and from t statistics
add("normand1999", "escalc", "SMD", "", "yi", nor$yi)
add("normand1999", "escalc", "SMD", "", "vi", nor$vi)
tstat <- c(2.1, -1.5, 0.4, 3.7)
n1 <- c(20, 30, 12, 45)
n2 <- c(22, 28, 15, 41)
es_t <- escalc(measure = "SMD", ti = tstat, n1i = n1, n2i = n2)
add("tstat", "escalc", "SMD", "", "ti", tstat)
add("tstat", "escalc", "SMD", "", "n1i", n1)
add("tstat", "escalc", "SMD", "", "n2i", n2)
add("tstat", "escalc", "SMD", "", "yi", es_t$yi)
add("tstat", "escalc", "SMD", "", "vi", es_t$vi)

# ---------------------------------------------------------------- pooling grid
methods <- c("EE", "DL", "REML", "ML", "PM", "SJ", "HE")
tests <- c("z", "knha")
for (nm in c("bcg", "normand1999", "bangertdrowns2004", "raudenbush1985", "homog")) {
  d <- datasets[[nm]]
  for (m in methods) for (tt in tests) {
    fit <- rma(yi, vi, data = d, method = m, test = tt, control = ctrl)
    pr <- predict(fit)
    q <- c(estimate = fit$b[1], se = fit$se, statistic = fit$zval, pvalue = fit$pval, ci_low = fit$ci.lb,
           ci_high = fit$ci.ub, tau2 = fit$tau2, i2 = fit$I2, h2 = fit$H2, q = fit$QE, q_pvalue = fit$QEp,
           pi_low = if (is.null(pr$pi.lb)) pr$ci.lb else pr$pi.lb,
           pi_high = if (is.null(pr$pi.ub)) pr$ci.ub else pr$pi.ub)
    for (qq in names(q)) add(nm, "pool", m, tt, qq, q[[qq]])
  }
  fit <- rma(yi, vi, data = d, method = "REML", control = ctrl)
  ci <- confint(fit, control = ctrl)$random
  add(nm, "tau2_ci", "REML", "z", "tau2_ci_low", ci["tau^2", "ci.lb"])
  add(nm, "tau2_ci", "REML", "z", "tau2_ci_high", ci["tau^2", "ci.ub"])
}

# ---------------------------------------------------------------- leave-one-out, influence, Baujat
for (nm in c("bcg", "normand1999", "raudenbush1985")) {
  d <- datasets[[nm]]
  for (m in c("DL", "REML")) {
    fit <- rma(yi, vi, data = d, method = m, control = ctrl)
    l1 <- leave1out(fit)
    for (qq in c("estimate", "se", "ci.lb", "ci.ub", "tau2", "I2", "Q")) add(nm, "leave1out", m, "z", qq, l1[[qq]])
    inf <- influence(fit)$inf
    for (qq in c("rstudent", "dffits", "cook.d", "cov.r", "tau2.del", "QE.del", "hat", "weight"))
      add(nm, "influence", m, "z", qq, inf[[qq]])
    bj <- baujat(fit, progbar = FALSE)
    add(nm, "baujat", m, "z", "x", bj$x)
    add(nm, "baujat", m, "z", "y", bj$y)
  }
}

# ---------------------------------------------------------------- small-study effects
for (nm in c("bcg", "normand1999", "bangertdrowns2004", "raudenbush1985")) {
  d <- datasets[[nm]]
  for (m in c("EE", "DL", "REML")) for (tt in tests) {
    fit <- rma(yi, vi, data = d, method = m, test = tt, control = ctrl)
    eg <- regtest(fit)
    add(nm, "egger", m, tt, "statistic", eg$zval)
    add(nm, "egger", m, tt, "pvalue", eg$pval)
    add(nm, "egger", m, tt, "limit_estimate", eg$est)
  }
  fe <- rma(yi, vi, data = d, method = "EE")
  eg <- regtest(fe, model = "lm")
  add(nm, "egger_lm", "EE", "t", "statistic", eg$zval)
  add(nm, "egger_lm", "EE", "t", "pvalue", eg$pval)
  rk <- ranktest(fe)
  add(nm, "ranktest", "EE", "", "tau", rk$tau)
  add(nm, "ranktest", "EE", "", "pvalue", rk$pval)
  for (m in c("EE", "DL", "REML")) for (est in c("L0", "R0")) {
    fit <- rma(yi, vi, data = d, method = m, control = ctrl)
    tf <- trimfill(fit, estimator = est, control = ctrl)
    add(nm, paste0("trimfill_", est), m, "z", "k0", tf$k0)
    add(nm, paste0("trimfill_", est), m, "z", "side_right", as.numeric(tf$side == "right"))
    add(nm, paste0("trimfill_", est), m, "z", "estimate", tf$b[1])
    add(nm, paste0("trimfill_", est), m, "z", "se", tf$se)
    add(nm, paste0("trimfill_", est), m, "z", "tau2", tf$tau2)
    add(nm, paste0("trimfill_", est), m, "z", "ci_low", tf$ci.lb)
    add(nm, paste0("trimfill_", est), m, "z", "ci_high", tf$ci.ub)
  }
  # PET and PEESE: weighted least squares with multiplicative dispersion (Stanley & Doucouliagos 2014)
  d$sei <- sqrt(d$vi)
  pet <- summary(lm(yi ~ sei, weights = 1 / vi, data = d))$coefficients
  peese <- summary(lm(yi ~ vi, weights = 1 / vi, data = d))$coefficients
  add(nm, "pet", "WLS", "t", "intercept", pet[1, 1]); add(nm, "pet", "WLS", "t", "intercept_se", pet[1, 2])
  add(nm, "pet", "WLS", "t", "intercept_p", pet[1, 4])
  add(nm, "peese", "WLS", "t", "intercept", peese[1, 1]); add(nm, "peese", "WLS", "t", "intercept_se", peese[1, 2])
  add(nm, "peese", "WLS", "t", "intercept_p", peese[1, 4])
}

# ---------------------------------------------------------------- subgroups and meta-regression
sub_cases <- list(list(nm = "bcg", g = "alloc"), list(nm = "bangertdrowns2004", g = "grade"))
for (sc in sub_cases) {
  d <- datasets[[sc$nm]]
  d <- d[!is.na(d[[sc$g]]), ]
  d$grp <- as.character(d[[sc$g]])
  for (m in c("DL", "REML")) {
    levs <- sort(unique(d$grp))
    est <- se <- k <- tau2 <- numeric(0)
    for (lv in levs) {
      f <- rma(yi, vi, data = d[d$grp == lv, ], method = m, control = ctrl)
      est <- c(est, f$b[1]); se <- c(se, f$se); k <- c(k, f$k); tau2 <- c(tau2, f$tau2)
    }
    add(sc$nm, "subgroup", m, "z", "group_estimate", est)
    add(sc$nm, "subgroup", m, "z", "group_se", se)
    add(sc$nm, "subgroup", m, "z", "group_tau2", tau2)
    add(sc$nm, "subgroup", m, "z", "group_k", k)
    qb <- rma(est, sei = se, method = "EE")
    add(sc$nm, "subgroup", m, "z", "q_between", qb$QE)
    add(sc$nm, "subgroup", m, "z", "q_between_pvalue", qb$QEp)
    for (tt in tests) {
      mm <- rma(yi, vi, mods = ~ factor(grp), data = d, method = m, test = tt, control = ctrl)
      add(sc$nm, "moderator", m, tt, "qm", mm$QM)
      add(sc$nm, "moderator", m, tt, "qm_pvalue", mm$QMp)
      add(sc$nm, "moderator", m, tt, "tau2", mm$tau2)
    }
  }
}

reg_cases <- list(list(nm = "bcg", f = ~ ablat), list(nm = "bcg", f = ~ ablat + year),
                  list(nm = "raudenbush1985", f = ~ weeks), list(nm = "bangertdrowns2004", f = ~ length))
for (rc in reg_cases) {
  d <- datasets[[rc$nm]]
  d <- d[complete.cases(d[, all.vars(rc$f), drop = FALSE]), ]
  label <- paste(all.vars(rc$f), collapse = "+")
  for (m in c("DL", "REML", "ML")) for (tt in tests) {
    fit <- rma(yi, vi, mods = rc$f, data = d, method = m, test = tt, control = ctrl)
    a <- paste0("metareg_", label)
    add(rc$nm, a, m, tt, "coef", fit$b[, 1])
    add(rc$nm, a, m, tt, "se", fit$se)
    add(rc$nm, a, m, tt, "pvalue", fit$pval)
    add(rc$nm, a, m, tt, "tau2", fit$tau2)
    add(rc$nm, a, m, tt, "qm", fit$QM)
    add(rc$nm, a, m, tt, "qm_pvalue", fit$QMp)
    add(rc$nm, a, m, tt, "qe", fit$QE)
    add(rc$nm, a, m, tt, "i2", fit$I2)
    add(rc$nm, a, m, tt, "r2", fit$R2)
  }
}

# ---------------------------------------------------------------- GOSH
for (nm in c("normand1999", "bcg")) {
  d <- datasets[[nm]]
  for (m in c("EE", "DL", "REML")) {
    if (nm == "bcg" && m == "REML") next
    g <- gosh(rma(yi, vi, data = d, method = m, control = ctrl), progbar = FALSE)
    # subset id: bit i-1 set when study i is included
    sid <- as.vector(as.matrix(g$incl) %*% (2^(seq_len(ncol(g$incl)) - 1)))
    o <- order(sid)
    if (nm == "normand1999") {
      add(nm, "gosh", m, "z", "subset_id", sid[o])
      add(nm, "gosh", m, "z", "estimate", g$res$estimate[o])
      add(nm, "gosh", m, "z", "i2", g$res$I2[o])
      add(nm, "gosh", m, "z", "tau2", g$res$tau2[o])
    } else {
      add(nm, "gosh_summary", m, "z", "n_subsets", nrow(g$res))
      add(nm, "gosh_summary", m, "z", "estimate_mean", mean(g$res$estimate))
      add(nm, "gosh_summary", m, "z", "estimate_min", min(g$res$estimate))
      add(nm, "gosh_summary", m, "z", "estimate_max", max(g$res$estimate))
      add(nm, "gosh_summary", m, "z", "i2_mean", mean(g$res$I2))
      add(nm, "gosh_summary", m, "z", "tau2_mean", mean(g$res$tau2))
    }
  }
}

ref <- do.call(rbind, rows)
versions <- data.frame(dataset = "_meta", analysis = "versions", method = c("R", "metafor"), test = "",
                       quantity = c(R.version.string, as.character(packageVersion("metafor"))), index = NA,
                       value = "", stringsAsFactors = FALSE)
write.csv(rbind(versions, ref), file.path(out_dir, "metafor_reference.csv"), row.names = FALSE, na = "")
cat("wrote", nrow(ref), "reference values\n")
