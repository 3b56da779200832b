#!/usr/bin/env bash
# model/effect.py, the table's "does muscle add beyond bone" tests, against R survival's coxph
# and anova (Breslow ties) on a seeded random cohort with ties in time and heavy censoring:
#   --labels/--analyze: nested Cox of age, sex, prevalent fracture, L1 HU, + muscle HU and index
#     (2 df), on the measured columns and on the generator's latents;
#   --scores --pair: one risk's complementary log-log beyond another's (1 df), both directions.
# The cohort is built so that one score carries information the other lacks: its LR statistic
# must be large and the reverse one small, so a test that returns anything cannot pass.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
command -v Rscript >/dev/null || fail "Rscript is missing: run scripts/install-deps.sh"
$PY -c 'import numpy' 2>/dev/null || fail "python3-numpy missing: run scripts/install-deps.sh"
Rscript -e 'suppressMessages(library(survival))' >/dev/null 2>&1 || fail "R package survival missing"
M="$OS_SOURCE_DIR/model"

cat >"$T/gen.py" <<'EOF'
import csv, math, sys, numpy as np
rng = np.random.default_rng(20261129)
n = 300
out = sys.argv[1]
lab = open(out + "/labels.csv", "w", newline=""); an = open(out + "/analyze.csv", "w", newline="")
sc = open(out + "/scores.csv", "w", newline="")
L = csv.writer(lab, lineterminator="\n"); A = csv.writer(an, lineterminator="\n"); S = csv.writer(sc, lineterminator="\n")
L.writerow(["study", "study_instance_uid", "time_years", "event", "age", "sex", "prevalent_vf", "trab_hu_L1",
            "muscle_hu_shift", "muscle_scale"])
A.writerow(["study_uid", "status", "fractures", "l1_hu_mean", "l3_muscle_mean_hu", "l3_muscle_index_cm2_m2"])
S.writerow(["study", "time_years", "event", "a_risk_5y", "b_risk_5y"])
for i in range(n):
    age = rng.uniform(50, 85); female = rng.random() < 0.6
    bone = rng.normal(140, 40); mshift = rng.normal(0, 8); mscale = math.exp(rng.normal(0, 0.09))
    prev = int(rng.random() < 0.3)
    lp = -0.02 * (bone - 140) - 0.05 * mshift - 3 * math.log(mscale) + 0.03 * (age - 65) + 0.4 * prev
    t_ev = rng.exponential(1 / (0.08 * math.exp(lp))); t_c = min(rng.uniform(0.5, 10), 6.0)
    t = max(round(min(t_ev, t_c) * 4) / 4, 0.25); e = int(t_ev <= t_c)
    uid = "2.25.%d" % (1000 + i)
    L.writerow(["s%03d" % i, uid, t, e, round(age, 1), "F" if female else "M", prev, round(bone, 1),
                round(mshift, 1), round(mscale, 3)])
    fr = ("L1:%d" % (1 + int(rng.random() < 0.5))) if prev and rng.random() < 0.8 else ""
    A.writerow([uid, "ok", fr, round(bone + rng.normal(0, 5), 1), round(40 + mshift + rng.normal(0, 2), 1),
                round(45 * mscale + rng.normal(0, 2), 2)])
    # a sees bone and muscle, b bone only; both noisy
    la = -0.02 * (bone - 140) - 0.05 * mshift - 3 * math.log(mscale) + rng.normal(0, 0.2)
    lb = -0.02 * (bone - 140) + rng.normal(0, 0.2)
    risk = lambda x: 1 - math.exp(-5 * 0.08 * math.exp(x))
    S.writerow(["s%03d" % i, t, e, "%.6f" % risk(la), "%.6f" % risk(lb)])
EOF
$PY "$T/gen.py" "$T" || fail "cohort generator failed"

$PY "$M/effect.py" --labels "$T/labels.csv" --analyze "$T/analyze.csv" --name t --json "$T/meas.json" >"$T/meas.txt" ||
  fail "effect.py (measurements) failed: $(cat "$T/meas.txt")"
$PY "$M/effect.py" --scores "$T/scores.csv" --pair a b --name t --json "$T/net.json" >"$T/net.txt" ||
  fail "effect.py (scores) failed: $(cat "$T/net.txt")"

cat >"$T/ref.R" <<'EOF'
suppressMessages(library(survival))
args <- commandArgs(TRUE)
lab <- read.csv(file.path(args[1], "labels.csv")); an <- read.csv(file.path(args[1], "analyze.csv"))
d <- merge(lab, an, by.x = "study_instance_uid", by.y = "study_uid")
d$female <- as.numeric(d$sex == "F"); d$mprev <- as.numeric(grepl("L1:", d$fractures))
lr <- function(f0, f1, data) anova(coxph(f0, data = data, ties = "breslow"), coxph(f1, data = data, ties = "breslow"))$Chisq[2]
cat("measured", lr(Surv(time_years, event) ~ age + female + mprev + l1_hu_mean,
                   Surv(time_years, event) ~ age + female + mprev + l1_hu_mean + l3_muscle_mean_hu + l3_muscle_index_cm2_m2, d), "\n")
d$lscale <- log(d$muscle_scale)
cat("latent", lr(Surv(time_years, event) ~ age + female + prevalent_vf + trab_hu_L1,
                 Surv(time_years, event) ~ age + female + prevalent_vf + trab_hu_L1 + muscle_hu_shift + lscale, d), "\n")
s <- read.csv(file.path(args[1], "scores.csv"))
s$a <- log(-log(1 - s$a_risk_5y)); s$b <- log(-log(1 - s$b_risk_5y))
cat("a_beyond_b", lr(Surv(time_years, event) ~ b, Surv(time_years, event) ~ b + a, s), "\n")
cat("b_beyond_a", lr(Surv(time_years, event) ~ a, Surv(time_years, event) ~ a + b, s), "\n")
EOF
Rscript "$T/ref.R" "$T" >"$T/ref.txt" 2>"$T/ref.err" || { cat "$T/ref.err"; fail "the R reference failed"; }

$PY - "$T" <<'EOF' || fail "effect.py disagrees with R survival"
import json, sys
d = sys.argv[1]
ref = {l.split()[0]: float(l.split()[1]) for l in open(d + "/ref.txt") if l.strip()}
meas, net = json.load(open(d + "/meas.json")), json.load(open(d + "/net.json"))
ours = {"measured": meas["measured"]["lr_chi2"], "latent": meas["generator_latents"]["lr_chi2"],
        "a_beyond_b": net["networks"]["a beyond b"]["lr_chi2"], "b_beyond_a": net["networks"]["b beyond a"]["lr_chi2"]}
bad = [k for k in ref if abs(ours[k] - ref[k]) > 1e-3 * max(1.0, ref[k])]
for k in ref:
    print("%-11s ours %.5f  R %.5f" % (k, ours[k], ref[k]))
if bad:
    sys.exit("differ: " + ", ".join(bad))
# the cohort's built-in effect: muscle adds, a adds to b, b adds little to a
assert meas["measured"]["p"] < 1e-3 and meas["measured"]["df"] == 2, meas["measured"]
assert net["networks"]["a beyond b"]["p"] < 1e-3 and net["networks"]["a beyond b"]["df"] == 1
assert net["networks"]["b beyond a"]["lr_chi2"] < net["networks"]["a beyond b"]["lr_chi2"] / 5
EOF
pass "nested Cox LR tests (measurements 2 df, networks 1 df, both directions) match R coxph + anova"
