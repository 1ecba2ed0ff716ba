# Reference values for gutmeta.routes (responders -> OR -> SMD), computed with R's metafor.
# Regenerate (Debian r-base-core r-cran-metafor): Rscript tests/reference/make_routes_reference.R
# Writes tests/reference/routes_reference.csv; CI does not need R.
suppressMessages(library(metafor))
d <- data.frame(e1 = c(14, 9, 0, 5, 20, 1), n1 = c(22, 39, 10, 30, 20, 50),
                e2 = c(7, 10, 3, 5, 19, 0), n2 = c(22, 38, 12, 30, 25, 48))
r <- escalc(measure = "OR2DL", ai = e1, n1i = n1, ci = e2, n2i = n2, data = d)
# the smallest |t| consistent with "p < 0.05", and an exact p, as escalc SMD from t
t <- data.frame(p = c(0.05, 0.013, 0.5), n1 = c(20, 20, 23), n2 = c(20, 20, 22))
t$ti <- qt(1 - t$p / 2, t$n1 + t$n2 - 2)
s <- escalc(measure = "SMD", ti = ti, n1i = n1, n2i = n2, data = t)
out <- rbind(
  data.frame(route = "responders->OR->SMD", a = d$e1, b = d$n1, c = d$e2, d = d$n2,
             yi = sprintf("%.17g", -r$yi), vi = sprintf("%.17g", r$vi)),
  data.frame(route = "exact p->t->g", a = t$p, b = t$n1, c = t$n2, d = NA,
             yi = sprintf("%.17g", s$yi), vi = sprintf("%.17g", s$vi)))
out <- rbind(data.frame(route = "_meta", a = NA, b = NA, c = NA, d = NA,
                        yi = R.version.string, vi = as.character(packageVersion("metafor"))), out)
write.csv(out, file.path("tests", "reference", "routes_reference.csv"), row.names = FALSE)
