# Randomized differential reference: metafor on a few hundred generated datasets.
#
# Regenerate (needs Debian packages r-base-core r-cran-metafor; about 20 CPU minutes), in one go
#     Rscript tests/reference/make_differential.R
# or in parts run side by side, then merged:
#     Rscript tests/reference/make_differential.R 1:94 /tmp/part1   (and 95:188, 189:282)
#     Rscript tests/reference/make_differential.R merge /tmp/part1 /tmp/part2 /tmp/part3
# Writes, gzip-compressed, so CI needs no R:
#   tests/reference/differential_datasets.csv.gz  one row per study: ds, regime, shift, study, yi, vi,
#                                                 group, x1, x2
#   tests/reference/differential_metafor.csv.gz   long format: ds, analysis, method, test, quantity,
#                                                 index, value (%.17g; NA where metafor fails)
# Regimes (seeded): standard; very unequal variances (vi over four orders of magnitude); large
# offsets (effects near 1e4 with SE 0.05); huge heterogeneity; ties (effects and variances
# rounded); one-study subgroups; one very precise study among imprecise ones (where the ML/REML
# likelihood can have two maxima); k = 2 and 3. metafor runs at control=list(tol=1e-12,
# threshold=1e-12, maxiter=10000) with step halving (stepadj=0.5) when Fisher scoring fails.
# tests/test_differential.py reads the files; its docstring lists the cases where metafor is
# the one that is wrong.

suppressMessages(library(metafor))
set.seed(20251129)
ctrl <- list(tol = 1e-12, threshold = 1e-12, maxiter = 10000)
ctrl_step <- list(tol = 1e-12, threshold = 1e-12, maxiter = 10000, stepadj = 0.5)
out_dir <- file.path("tests", "reference")
METHODS <- c("EE", "DL", "REML", "ML", "PM", "SJ", "HE")

acc <- new.env()
acc$n <- 0
acc$chunks <- list()
add <- function(ds, analysis, method, test, quantity, value, index = NA) {
  value <- as.numeric(value)
  if (length(value) == 0) return(invisible())
  if (length(index) == 1 && is.na(index)) index <- if (length(value) > 1) seq_along(value) else NA
  acc$n <- acc$n + 1
  acc$chunks[[acc$n]] <- data.frame(ds = ds, analysis = analysis, method = method, test = test,
    quantity = quantity, index = index, value = ifelse(is.na(value), "NA", sprintf("%.17g", value)),
    stringsAsFactors = FALSE)
}

fit <- function(d, mods = NULL, ...) {
  args <- list(yi = d$yi, vi = d$vi, ...)
  if (!is.null(mods)) args$mods <- mods
  r <- tryCatch(suppressWarnings(do.call(rma, c(args, list(control = ctrl)))), error = function(e) NULL)
  if (is.null(r))
    r <- tryCatch(suppressWarnings(do.call(rma, c(args, list(control = ctrl_step)))),
                  error = function(e) NULL)
  r
}

# ---------------------------------------------------------------- datasets
make <- function(regime) {
  k <- switch(regime, tiny = sample(2:3, 1), precise = 16, onestudy = sample(5:20, 1), sample(2:60, 1))
  mu <- rnorm(1, 0, 0.5)
  tau2 <- sample(c(0, 0.01, 0.1, 0.5), 1)
  vi <- runif(k, 0.01, 0.2)
  if (regime == "unequal") vi <- 10^runif(k, -4, 0)
  if (regime == "offset") { mu <- 1e4 + rnorm(1); vi <- rep(0.05^2, k) * runif(k, 0.5, 2) }
  if (regime == "hugehet") tau2 <- 100
  if (regime == "precise") { vi <- runif(k, 0.1, 1); vi[1] <- 1e-4; tau2 <- 1 }
  yi <- rnorm(k, mu, sqrt(tau2 + vi))
  if (regime == "ties") { yi <- round(yi, 1); vi <- round(vi, 2) + 0.01 }
  if (regime == "offset") yi <- round(yi, 3)
  x1 <- round(rnorm(k), 3)
  x2 <- round(runif(k, 0, 10), 2)
  group <- sample(c("a", "b", "c"), k, replace = TRUE)
  if (regime == "onestudy") { group <- rep("a", k); group[k] <- "b"; if (k > 6) group[2] <- "c" }
  if (length(unique(group)) < 2) group[1] <- ifelse(group[1] == "a", "b", "a")
  data.frame(yi = yi, vi = vi, group = group, x1 = x1, x2 = x2, stringsAsFactors = FALSE)
}

regimes <- c(rep("standard", 70), rep("unequal", 50), rep("offset", 25), rep("hugehet", 25),
             rep("ties", 40), rep("onestudy", 25), rep("precise", 25), rep("tiny", 20))
sets <- lapply(regimes, make)
nor <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
set.seed(7)
sets[[length(sets) + 1]] <- data.frame(yi = as.numeric(nor$yi), vi = as.numeric(nor$vi),
  group = dat.normand1999$source, x1 = round(rnorm(9), 3), x2 = round(runif(9, 0, 10), 2))
regimes <- c(regimes, "normand1999")

# ---------------------------------------------------------------- analyses
one <- function(id, d) {
  k <- nrow(d)
  ds <- sprintf("d%03d", id)
  for (m in METHODS) for (t in c("z", "knha")) {
    if (t == "knha" && k < 2) next
    r <- fit(d, method = m, test = t)
    if (is.null(r)) { add(ds, "pool", m, t, "failed", 1); next }
    p <- predict(r)
    add(ds, "pool", m, t, "estimate", r$beta); add(ds, "pool", m, t, "se", r$se)
    add(ds, "pool", m, t, "pvalue", r$pval); add(ds, "pool", m, t, "ci_low", r$ci.lb)
    add(ds, "pool", m, t, "ci_high", r$ci.ub); add(ds, "pool", m, t, "tau2", r$tau2)
    add(ds, "pool", m, t, "i2", r$I2); add(ds, "pool", m, t, "h2", r$H2)
    add(ds, "pool", m, t, "q", r$QE); add(ds, "pool", m, t, "q_pvalue", r$QEp)
    add(ds, "pool", m, t, "pi_low", if (is.null(p$pi.lb)) p$ci.lb else p$pi.lb)
    add(ds, "pool", m, t, "pi_high", if (is.null(p$pi.ub)) p$ci.ub else p$pi.ub)
    if (m %in% c("ML", "REML")) add(ds, "pool", m, t, "loglik", logLik(r))
    if (m == "REML" && t == "z" && k > 1) {
      ci <- tryCatch(suppressWarnings(confint(r, control = list(tol = 1e-12, maxiter = 10000))),
                     error = function(e) NULL)
      if (!is.null(ci)) {
        add(ds, "tau2_ci", "REML", "z", "tau2_ci_low", ci$random["tau^2", "ci.lb"])
        add(ds, "tau2_ci", "REML", "z", "tau2_ci_high", ci$random["tau^2", "ci.ub"])
      }
    }
  }
  if (k >= 2) for (m in c("DL", "REML")) for (t in c("z", "knha")) {
    if (m == "DL" && t == "knha") next
    r <- fit(d, method = m, test = t)
    if (is.null(r)) next
    l <- tryCatch(suppressWarnings(leave1out(r)), error = function(e) NULL)
    if (is.null(l)) next
    add(ds, "leave1out", m, t, "estimate", l$estimate); add(ds, "leave1out", m, t, "se", l$se)
    add(ds, "leave1out", m, t, "pvalue", l$pval); add(ds, "leave1out", m, t, "tau2", l$tau2)
    add(ds, "leave1out", m, t, "q", l$Q); add(ds, "leave1out", m, t, "ci_low", l$ci.lb)
  }
  if (k >= 3 && k <= 40) {
    r <- fit(d, method = "REML")
    inf <- tryCatch(suppressWarnings(influence(r)$inf), error = function(e) NULL)
    if (!is.null(inf)) for (q in c("rstudent", "dffits", "cook.d", "cov.r", "tau2.del", "QE.del", "hat"))
      add(ds, "influence", "REML", "z", q, inf[[q]])
    b <- tryCatch(suppressWarnings(baujat(r, progbar = FALSE)), error = function(e) NULL)
    if (!is.null(b)) { add(ds, "baujat", "REML", "z", "x", b$x); add(ds, "baujat", "REML", "z", "y", b$y) }
  }
  if (k >= 3) {
    for (m in c("EE", "DL", "REML")) for (t in c("z", "knha")) {
      r <- fit(d, method = m, test = t)
      g <- tryCatch(suppressWarnings(regtest(r)), error = function(e) NULL)
      if (is.null(g)) next
      add(ds, "egger", m, t, "statistic", g$zval); add(ds, "egger", m, t, "pvalue", g$pval)
      add(ds, "egger", m, t, "limit_estimate", g$est)
    }
    g <- tryCatch(suppressWarnings(regtest(rma(d$yi, d$vi, method = "EE"), model = "lm")),
                  error = function(e) NULL)
    if (!is.null(g)) {
      add(ds, "egger_lm", "EE", "t", "statistic", g$zval); add(ds, "egger_lm", "EE", "t", "pvalue", g$pval)
      add(ds, "egger_lm", "EE", "t", "limit_estimate", g$est)
    }
    rk <- suppressWarnings(ranktest(d$yi, d$vi))
    add(ds, "ranktest", "EE", "z", "tau", rk$tau); add(ds, "ranktest", "EE", "z", "pvalue", rk$pval)
    for (m in c("EE", "REML")) for (est in c("L0", "R0")) for (t in c("z", "knha")) {
      if (m == "EE" && t == "knha") next
      r <- fit(d, method = m, test = t)
      tf <- tryCatch(suppressWarnings(trimfill(r, estimator = est, control = ctrl)), error = function(e) NULL)
      if (is.null(tf)) { add(ds, "trimfill", m, paste(est, t), "failed", 1); next }
      add(ds, "trimfill", m, paste(est, t), "k0", tf$k0)
      add(ds, "trimfill", m, paste(est, t), "estimate", tf$beta)
      add(ds, "trimfill", m, paste(est, t), "se", tf$se)
      add(ds, "trimfill", m, paste(est, t), "tau2", tf$tau2)
      add(ds, "trimfill", m, paste(est, t), "side", ifelse(tf$side == "left", 0, 1))
    }
  }
  # subgroups: per-group fits and the common-tau2 moderator test
  levs <- sort(unique(d$group))
  for (m in c("DL", "REML")) for (t in c("z", "knha")) {
    est <- se <- numeric(0)
    for (j in seq_along(levs)) {
      r <- fit(d[d$group == levs[j], ], method = m, test = t)
      if (is.null(r)) next
      add(ds, "subgroup", m, t, "estimate", r$beta, j); add(ds, "subgroup", m, t, "se", r$se, j)
      add(ds, "subgroup", m, t, "pvalue", r$pval, j); add(ds, "subgroup", m, t, "tau2", r$tau2, j)
      add(ds, "subgroup", m, t, "ci_low", r$ci.lb, j)
      est <- c(est, r$beta); se <- c(se, r$se)
    }
    if (length(est) == length(levs))
      add(ds, "subgroup", m, t, "q_between", rma(est, sei = se, method = "EE")$QE)
    if (k > length(levs)) {
      r <- fit(d, mods = model.matrix(~ factor(d$group))[, -1, drop = FALSE], method = m, test = t)
      if (!is.null(r)) {
        add(ds, "subgroup", m, t, "qm", r$QM); add(ds, "subgroup", m, t, "qm_pvalue", r$QMp)
        add(ds, "subgroup", m, t, "tau2_common", r$tau2)
      }
    }
  }
  # meta-regression on one and two moderators
  for (mods in c("x1", "x1+x2")) for (m in c("DL", "REML", "ML", "PM")) for (t in c("z", "knha")) {
    p <- if (mods == "x1") 2 else 3
    if (k <= p) next
    r <- fit(d, mods = if (mods == "x1") cbind(d$x1) else cbind(d$x1, d$x2), method = m, test = t)
    if (is.null(r)) { add(ds, "metareg", m, paste(mods, t), "failed", 1); next }
    tag <- paste(mods, t)
    add(ds, "metareg", m, tag, "coef", r$beta); add(ds, "metareg", m, tag, "se", r$se)
    add(ds, "metareg", m, tag, "pvalue", r$pval); add(ds, "metareg", m, tag, "qm", r$QM)
    add(ds, "metareg", m, tag, "qm_pvalue", r$QMp); add(ds, "metareg", m, tag, "tau2", r$tau2)
    add(ds, "metareg", m, tag, "qe", r$QE); add(ds, "metareg", m, tag, "r2", r$R2)
    if (m %in% c("ML", "REML")) add(ds, "metareg", m, tag, "loglik", logLik(r))
  }
  # GOSH on small k (every subset)
  if (k >= 2 && k <= 7) for (m in c("EE", "DL", "REML")) {
    r <- fit(d, method = m)
    g <- tryCatch(suppressWarnings(gosh(r, progbar = FALSE, control = ctrl)), error = function(e) NULL)
    if (is.null(g)) next
    id <- as.numeric(g$incl %*% 2^(seq_len(k) - 1))
    add(ds, "gosh", m, "z", "estimate", g$res$estimate, id); add(ds, "gosh", m, "z", "tau2", g$res$tau2, id)
    add(ds, "gosh", m, "z", "i2", g$res$I2, id); add(ds, "gosh", m, "z", "q", g$res$QE, id)
  }
}

# Offset regime: metafor computes y'Py without centring and loses digits when the effects are
# near 1e4 (see tests/test_differential.py); the reference is metafor on the exactly shifted
# effects yi - 10000 (a difference of two doubles within a factor of 2 is exact), and the
# tests shift location quantities back. The raw-data Q is kept to document the loss.
shift <- ifelse(regimes == "offset", 10000, 0)
args <- commandArgs(trailingOnly = TRUE)  # optional: dataset numbers (e.g. 1:94) and a folder
if (length(args) >= 2 && args[1] == "merge") {
  for (f in c("differential_datasets.csv.gz", "differential_metafor.csv.gz")) {
    parts <- lapply(args[-1], function(dir) read.csv(file.path(dir, f), colClasses = "character"))
    whole <- do.call(rbind, parts)
    whole <- whole[!duplicated(whole), ]
    con <- gzfile(file.path(out_dir, f), "w")
    write.csv(whole, con, row.names = FALSE, quote = TRUE, na = ""); close(con)
  }
  quit(save = "no")
}
todo <- if (length(args) >= 2) eval(parse(text = args[1])) else seq_along(sets)
if (length(args) >= 2) out_dir <- args[2]
for (i in todo) {
  if (i %% 20 == 0) message(sprintf("dataset %d of %d", i, length(sets)))
  d <- sets[[i]]
  if (shift[i] != 0) {
    add(sprintf("d%03d", i), "raw_offset", "EE", "z", "q", rma(d$yi, d$vi, method = "EE")$QE)
    d$yi <- d$yi - shift[i]
  }
  one(i, d)
}

dsets <- do.call(rbind, lapply(todo, function(i) {
  d <- sets[[i]]
  data.frame(ds = sprintf("d%03d", i), regime = regimes[i], shift = shift[i], study = seq_len(nrow(d)),
             yi = sprintf("%.17g", d$yi), vi = sprintf("%.17g", d$vi), group = d$group,
             x1 = sprintf("%.17g", d$x1), x2 = sprintf("%.17g", d$x2))
}))
res <- do.call(rbind, acc$chunks)
meta <- data.frame(ds = "_meta", analysis = "", method = c("R", "metafor"), test = "",
                   quantity = c(R.version.string, as.character(packageVersion("metafor"))),
                   index = NA, value = "NA")
res <- rbind(meta, res)
con <- gzfile(file.path(out_dir, "differential_datasets.csv.gz"), "w")
write.csv(dsets, con, row.names = FALSE, quote = TRUE); close(con)
con <- gzfile(file.path(out_dir, "differential_metafor.csv.gz"), "w")
write.csv(res, con, row.names = FALSE, quote = TRUE, na = ""); close(con)
cat(sprintf("%d datasets, %d reference rows\n", length(sets), nrow(res)))
