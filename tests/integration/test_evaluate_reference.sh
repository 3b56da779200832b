#!/usr/bin/env bash
# `osteoscout evaluate` against the reference implementations Debian ships: R survival's
# concordance (Harrell; Uno with timewt "n/G2", with and without ymax), riskRegression's Score
# (cumulative/dynamic AUROC, cens.model "km"), pROC (DeLong CI, variance, paired test) and
# sklearn's roc_auc_score, on a seeded random cohort with ties in time (event–event and
# event–censored), ties in score, heavy censoring, missing values and a quoted header.
# Tolerances: 1e-3 Harrell, 1e-2 the IPCW figures, 1e-6 the AUROC figures; in practice they
# agree to rounding. The comparer is also fed a tampered result and must reject it, so a
# comparer that accepts anything cannot pass.
. "$(dirname "$0")/lib.sh"

# Debian's interpreter, where python3-sklearn lives, even when another python3 is first on PATH.
PY=/usr/bin/python3
command -v Rscript >/dev/null || fail "Rscript is missing: run scripts/install-deps.sh"
$PY -c 'import numpy, sklearn' 2>/dev/null || fail "python3-numpy/python3-sklearn missing: run scripts/install-deps.sh"
Rscript -e 'suppressMessages({library(survival); library(riskRegression); library(pROC)})' >/dev/null 2>&1 ||
  fail "R packages survival, riskRegression or pROC missing: run scripts/install-deps.sh"

# ---- the cohort: 400 subjects, times on a 0.25-year grid (so horizons 2, 3, 5 fall on
# observed times), administrative censoring at 8 years, two scores, a detection label.
cat >"$T/gen.py" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(20240611)
n = 400
x = rng.normal(size=n)
s1 = np.round(x + rng.normal(scale=0.8, size=n), 1)                      # unbounded, many ties
s2 = np.round(1 / (1 + np.exp(-(0.8 * x + rng.normal(size=n) - 1))), 2)  # a probability, ties
t_event = rng.exponential(1 / (0.12 * np.exp(0.6 * x)))
t_cens = np.minimum(rng.uniform(0.5, 12, size=n), 8.0)
time = np.maximum(np.round(np.minimum(t_event, t_cens) * 4) / 4, 0.25)
event = (t_event <= t_cens).astype(int)
label = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.2 * x - 1)))).astype(int)
miss2 = set(rng.choice(n, 7, replace=False)); miss1 = set(rng.choice(n, 3, replace=False))
with open(sys.argv[1], "w") as f:
    f.write('id,time,event,label,s1,"s2"\r\n')
    for i in range(n):
        a = "" if i in miss1 else f"{s1[i]:.1f}"
        b = "NA" if i in miss2 else f"{s2[i]:.2f}"
        f.write(f'"p{i:04d}",{time[i]:.2f},{event[i]},{label[i]},{a},{b}\r\n')
EOF
$PY "$T/gen.py" "$T/cohort.csv"

args=("$T/cohort.csv" --time time --event event --label label --score s1 --score s2 --horizons 2,3,5 --json)
cli evaluate "${args[@]}" --bootstrap 100 --seed 7 >"$T/ours.json" || fail "evaluate failed"
cli evaluate "${args[@]}" --bootstrap 0 --tau 4 >"$T/ours_tau.json" || fail "evaluate --tau failed"

# ---- the references, each score on its complete cases (as evaluate drops rows per score).
cat >"$T/ref.R" <<'EOF'
args <- commandArgs(TRUE)
suppressMessages({library(survival); library(riskRegression); library(pROC)})
d <- read.csv(args[1], na.strings = c("", "NA"))
out <- function(k, v) cat(k, format(as.numeric(v), digits = 17), "\n")
for (s in c("s1", "s2")) {
  x <- d[complete.cases(d[, c("time", "event", "label", s)]), ]
  f <- as.formula(paste("Surv(time, event) ~", s))
  out(paste(s, "c_harrell"), concordance(f, data = x, reverse = TRUE)$concordance)
  out(paste(s, "c_uno"), concordance(f, data = x, reverse = TRUE, timewt = "n/G2")$concordance)
  out(paste(s, "c_uno_tau4"), concordance(f, data = x, reverse = TRUE, timewt = "n/G2", ymax = 4)$concordance)
  # Score wants risks in [0, 1]; the AUROC only sees ranks, which a linear map keeps, ties too.
  p <- (x[[s]] - min(x[[s]])) / (max(x[[s]]) - min(x[[s]]))
  sc <- Score(setNames(list(p), s), formula = Hist(time, event) ~ 1, data = x, times = c(2, 3, 5),
              metrics = "auc", cens.model = "km", se.fit = FALSE, null.model = FALSE)$AUC$score
  for (i in seq_len(nrow(sc))) out(paste(s, "td", sc$times[i]), sc$AUC[i])
  r <- roc(x$label, x[[s]], direction = "<", levels = c(0, 1), quiet = TRUE)
  ci <- ci.auc(r, method = "delong")
  out(paste(s, "auroc"), auc(r))
  out(paste(s, "auroc_lo"), ci[1])
  out(paste(s, "auroc_hi"), ci[3])
  out(paste(s, "auroc_var"), var(r, method = "delong"))
}
x <- d[complete.cases(d[, c("time", "event", "label", "s1", "s2")]), ]
r1 <- roc(x$label, x$s1, direction = "<", levels = c(0, 1), quiet = TRUE)
r2 <- roc(x$label, x$s2, direction = "<", levels = c(0, 1), quiet = TRUE)
t <- roc.test(r1, r2, method = "delong", paired = TRUE)
out("paired z", t$statistic)
out("paired p", t$p.value)
out("paired n", nrow(x))
EOF
Rscript "$T/ref.R" "$T/cohort.csv" >"$T/ref.txt" 2>"$T/ref.err" || { cat "$T/ref.err"; fail "the R reference failed"; }

cat >"$T/compare.py" <<'EOF'
import csv, json, math, sys
import numpy as np
from sklearn.metrics import roc_auc_score

cohort, ours_path, tau_path, ref_path = sys.argv[1:5]
ours, ours_tau = json.load(open(ours_path)), json.load(open(tau_path))
ref = {}
for line in open(ref_path):
    *key, value = line.split()
    ref[" ".join(key)] = float(value)
rows = list(csv.DictReader(open(cohort, newline="")))
TOL = {"harrell": 1e-3, "ipcw": 1e-2, "auroc": 1e-6}
worst = {k: 0.0 for k in TOL}
bad = []

def check(kind, what, got, want):
    if got is None or not math.isfinite(got) or abs(got - want) > TOL[kind]:
        bad.append(f"{what}: osteoscout {got} vs reference {want}")
    else:
        worst[kind] = max(worst[kind], abs(got - want))

def present(r, *cols):
    return all(r[c] not in ("", "NA") for c in cols)

for s in ("s1", "s2"):
    o = ours["scores"][s]
    use = [r for r in rows if present(r, "time", "event", "label", s)]
    if o["n"] != len(use) or o["dropped"] != len(rows) - len(use):
        bad.append(f"{s}: n {o['n']} dropped {o['dropped']}, expected {len(use)} and {len(rows) - len(use)}")
    check("harrell", f"{s} Harrell C", o["c_harrell"], ref[f"{s} c_harrell"])
    check("ipcw", f"{s} Uno C", o["c_uno"], ref[f"{s} c_uno"])
    check("ipcw", f"{s} Uno C tau=4", ours_tau["scores"][s]["c_uno"], ref[f"{s} c_uno_tau4"])
    for h in ("2", "3", "5"):
        check("ipcw", f"{s} td-AUROC at {h}", o["td_auroc"][h], ref[f"{s} td {h}"])
    y = np.array([int(r["label"]) for r in use])
    x = np.array([float(r[s]) for r in use])
    check("auroc", f"{s} AUROC vs sklearn", o["auroc"], roc_auc_score(y, x))
    check("auroc", f"{s} AUROC vs pROC", o["auroc"], ref[f"{s} auroc"])
    check("auroc", f"{s} DeLong CI low", o["auroc_ci"][0], ref[f"{s} auroc_lo"])
    check("auroc", f"{s} DeLong CI high", o["auroc_ci"][1], ref[f"{s} auroc_hi"])
    check("auroc", f"{s} DeLong variance", o["auroc_var"], ref[f"{s} auroc_var"])
    # The paper's k-year AUROC, recomputed here from its definition with sklearn.
    t = np.array([float(r["time"]) for r in use]); e = np.array([int(r["event"]) for r in use])
    for h in ("2", "3", "5"):
        k = float(h)
        case = (e == 1) & (t <= k)
        ctrl = ~case & (t >= k)
        keep = case | ctrl
        check("auroc", f"{s} paper AUROC at {h}", o["paper_auroc"][h], roc_auc_score(case[keep], x[keep]))
    for name, ci in [("Harrell", o["ci"]["c_harrell"]), ("Uno", o["ci"]["c_uno"])] + \
                    [(f"td {h}", o["ci"]["td_auroc"][h]) for h in ("2", "3", "5")]:
        if None in ci or not (0 <= ci[0] < ci[1] <= 1):
            bad.append(f"{s} bootstrap CI of {name} is {ci}")
p = ours["paired"][0]
check("auroc", "paired DeLong z", p["z"], ref["paired z"])
check("auroc", "paired DeLong p", p["p"], ref["paired p"])
if p["n"] != ref["paired n"]:
    bad.append(f"paired n {p['n']} vs {ref['paired n']}")
if ours["n"] != len(rows) or ours["events"] != sum(int(r["event"]) for r in rows):
    bad.append(f"n/events {ours['n']}/{ours['events']}")
for kind in TOL:
    print(f"  largest difference, {kind}: {worst[kind]:.2e} (tolerance {TOL[kind]:g})")
if bad:
    print("\n".join("MISMATCH " + b for b in bad))
    sys.exit(1)
EOF
$PY "$T/compare.py" "$T/cohort.csv" "$T/ours.json" "$T/ours_tau.json" "$T/ref.txt" ||
  fail "osteoscout evaluate disagrees with the reference implementations"
pass "Harrell, Uno (with and without tau), td-AUROC, AUROC, DeLong CI and paired test match R and sklearn"

# The comparer must catch a wrong figure: shift one c-index by 0.002 and one td-AUROC by 0.02.
$PY - "$T/ours.json" "$T/tampered.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["scores"]["s1"]["c_harrell"] += 0.002
j["scores"]["s2"]["td_auroc"]["3"] += 0.02
json.dump(j, open(sys.argv[2], "w"))
EOF
if $PY "$T/compare.py" "$T/cohort.csv" "$T/tampered.json" "$T/ours_tau.json" "$T/ref.txt" >"$T/tampered.log"; then
  fail "the comparer accepted a tampered result"
fi
grep -q "MISMATCH s1 Harrell" "$T/tampered.log" && grep -q "MISMATCH s2 td-AUROC at 3" "$T/tampered.log" ||
  { cat "$T/tampered.log"; fail "the comparer did not name the tampered figures"; }
pass "a tampered result is rejected"
