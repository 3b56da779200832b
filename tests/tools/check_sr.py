#!/usr/bin/env python3
"""Checks an OsteoScout SR as a PACS holds it against the phantom it was made from.

usage: check_sr.py SR_TAGS.json TRUTH.json RESULT.json [--fracture LEVEL] [--hu-level LEVEL]

SR_TAGS.json is Orthanc's GET /instances/ID/tags?simplify of the SR: the content tree as the
PACS parsed it (not read back through OsteoScout's own code). TRUTH.json is the phantom's
truth.json; RESULT.json the node's result for the job (`osteoscout show JOB --json`, or its
results.analysis). Every number of the SR must equal the node's result (the transport is
exact), and the key figures must be near the truth:

  * the fractured LEVEL: Genant grade >= 2, or all three heights within 2 mm of the truth;
  * trabecular HU at --hu-level (default L1) within 15 HU of the truth;
  * skeletal muscle area at L3 within 10 % of the truth.

Prints one "ok:" line per check and exits 0, or "FAIL: ..." lines and exits 1.
"""
import argparse
import json
import math
import sys

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
HEIGHT, ATTENUATION, GENANT, AREA = "121207", "112031", "VB-GENANT", "42798000"
MODIFIERS = {"255549009": "anterior", "255562008": "middle", "255551008": "posterior"}


def code(item, key):
    seq = item.get(key) or [{}]
    c = seq[0] if isinstance(seq, list) and seq else {}
    return c.get("CodeValue", ""), c.get("CodingSchemeDesignator", "")


def walk(items, group, out):
    """Collects NUMs of measurement groups: {(group tracking id, concept, modifier): value}."""
    for it in items or []:
        vt, name = it.get("ValueType"), code(it, "ConceptNameCodeSequence")
        if vt == "CONTAINER" and name == ("125007", "DCM"):
            kids = it.get("ContentSequence") or []
            tid = next((k.get("TextValue", "") for k in kids
                        if k.get("ValueType") == "TEXT" and code(k, "ConceptNameCodeSequence") == ("112039", "DCM")), "")
            walk(kids, tid, out)
        elif vt == "NUM" and group is not None:
            mv = (it.get("MeasuredValueSequence") or [{}])[0]
            modifier = ""
            for k in it.get("ContentSequence") or []:
                if k.get("ValueType") == "CODE" and code(k, "ConceptNameCodeSequence")[0] == "106233006":
                    modifier = code(k, "ConceptCodeSequence")[0]
            out[(group, name[0], modifier)] = float(mv.get("NumericValue", "nan"))
        elif vt == "CONTAINER":
            walk(it.get("ContentSequence"), group, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sr_tags")
    ap.add_argument("truth")
    ap.add_argument("result")
    ap.add_argument("--fracture", help="the fractured level (default: the truth's most severe)")
    ap.add_argument("--hu-level", default="L1")
    a = ap.parse_args()
    tags = json.load(open(a.sr_tags))
    truth = json.load(open(a.truth))
    result = json.load(open(a.result))
    if "results" in result:  # osteoscout show JOB --json
        result = result["results"]["analysis"]
    failures = []

    def check(ok, what):
        print(("ok: " if ok else "FAIL: ") + what)
        if not ok:
            failures.append(what)

    # Identity: a TID 1500 Comprehensive SR in the phantom's study.
    check(tags.get("SOPClassUID") == COMPREHENSIVE_SR, "SOP class %s is Comprehensive SR" % tags.get("SOPClassUID"))
    check(code(tags, "ConceptNameCodeSequence") == ("126000", "DCM"),
          "root concept %s is 126000 Imaging Measurement Report" % (code(tags, "ConceptNameCodeSequence"),))
    check(tags.get("StudyInstanceUID") == truth["study_uid"], "SR is in the phantom's study")

    nums = {}
    walk(tags.get("ContentSequence"), None, nums)
    check(len(nums) > 0, "SR holds %d measurements" % len(nums))

    def sr(group, concept, modifier=""):
        return nums.get((group, concept, modifier))

    # Exact transport: every measured number of the result is in the SR (DS keeps 16 characters).
    n_same = 0
    for v in result.get("vertebrae", []):
        g = v.get("label", "") + " vertebra"
        pairs = [((HEIGHT, "255549009"), v.get("height_anterior_mm")), ((HEIGHT, "255562008"), v.get("height_middle_mm")),
                 ((HEIGHT, "255551008"), v.get("height_posterior_mm")), ((ATTENUATION, ""), v.get("trabecular_hu_mean"))]
        grade = v.get("genant_grade")
        if isinstance(grade, (int, float)) and 0 <= grade <= 3:
            pairs.append(((GENANT, ""), grade))
        for (concept, mod), want in pairs:
            if want is None:
                continue
            got = sr(g, concept, mod)
            same = got is not None and math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
            if not same:
                check(False, "%s %s%s: SR has %s, the node's result %s" % (g, concept, "/" + mod if mod else "", got, want))
            n_same += same
    area = (result.get("muscle", {}).get("L3") or {}).get("area_cm2")
    if area is not None:
        got = sr("Skeletal muscle at L3", AREA)
        check(got is not None and math.isclose(got, area, rel_tol=1e-6), "L3 muscle area in the SR %s = result %s" % (got, area))
    check(n_same > 0, "%d vertebral numbers in the SR equal the node's result" % n_same)

    # Against the truth.
    tv = {v["label"]: v for v in truth["vertebrae"]}
    level = a.fracture or max(tv.values(), key=lambda v: v.get("genant_grade", 0))["label"]
    t = tv[level]
    g = level + " vertebra"
    grade = sr(g, GENANT)
    heights = {MODIFIERS[m]: sr(g, HEIGHT, m) for m in MODIFIERS}
    close = all(heights[k] is not None and abs(heights[k] - t["height_%s_mm" % k]) <= 2.0 for k in heights)
    check((grade is not None and grade >= 2) or close,
          "%s fracture (truth %s, grade %s, heights a/m/p %.1f/%.1f/%.1f mm): SR grade %s, heights %s" % (
              level, t["deformity"], t["genant_grade"], t["height_anterior_mm"], t["height_middle_mm"],
              t["height_posterior_mm"], grade, ", ".join("%s %s" % (k, heights[k]) for k in heights)))
    hu = sr(a.hu_level + " vertebra", ATTENUATION)
    want = tv[a.hu_level]["trabecular_hu"]
    check(hu is not None and abs(hu - want) <= 15, "%s trabecular HU: SR %s, truth %s (within 15)" % (a.hu_level, hu, want))
    area = sr("Skeletal muscle at L3", AREA)
    want = truth["muscle"]["L3"]["area_cm2"]
    check(area is not None and abs(area - want) <= 0.10 * want,
          "L3 muscle area: SR %s cm2, truth %.1f cm2 (within 10 %%)" % (area, want))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
