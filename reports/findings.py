"""What the report leads with, above the matrix: the findings per category that matters, each a
line with both numbers and a link to its card; and how the notes were read."""
from __future__ import annotations

from oracles.verdict import blame_line, check_label, short

# the categories listed, in the order a reader acts on them
FINDING_ORDER = ("harness-error", "claim-error", "subject-defect", "notes-erratum",
                 "kink-convention", "oracle-disagreement")
PER_CATEGORY = 40


def _num(v):
    """A number or a list as the findings show it: a one-entry list as its entry."""
    return short(v[0]) if isinstance(v, list) and len(v) == 1 else short(v, limit=3)


def summary_line(r: dict) -> str:
    """One line: what was found, with both numbers where the record has them."""
    v = r.get("values") or {}
    if r.get("blame"):
        return blame_line(r["blame"])
    if "got" in v and "reference" in v:
        return f"got {_num(v['got'])}, want {_num(v['reference'])}"
    if "printed" in v and "computed" in v:
        return f"printed {v['printed']}, computed {_num(v['computed'])}"
    if "printed" in v and "measured" in v:
        return f"printed {v['printed']}; measured {v['measured']}"
    if "derivative" in v and "subdifferential" in v:
        lo, hi = v["subdifferential"]
        return f"chose {_num(v['derivative'])} in [{_num(lo)}, {_num(hi)}]"
    first = (r.get("detail") or "").strip().splitlines()
    return first[0][:200] if first else ""


def _kink_rows(recs: list) -> list:
    """Kink conventions, one row per claim: who chose what at the kink (JVP / VJP where the
    two differ), and the subdifferential."""
    by_claim: dict = {}
    for r in recs:
        by_claim.setdefault(r["claim"], []).append(r)
    rows = []
    for claim, rs in sorted(by_claim.items()):
        chose: dict = {}
        for r in sorted(rs, key=lambda r: (r["engine"], r["check"])):
            chose.setdefault(r["engine"], []).append(_num((r.get("values") or {})
                                                          .get("derivative")))
        lo, hi = ((rs[0].get("values") or {}).get("subdifferential") or ["?", "?"])[:2]
        who = "; ".join(f"{e} {' / '.join(dict.fromkeys(v))}" for e, v in chose.items())
        rows.append({"claim": claim, "engine": "each engine", "check": "at the kink",
                     "line": f"{who} (the subdifferential is [{_num(lo)}, {_num(hi)}])",
                     "baselined": False, "probe": False})
    return rows


def findings(records: list) -> list:
    """[(category, rows, more)] for the categories that matter, in FINDING_ORDER; rows are
    dicts with the claim, engine, check, the line and whether the erratum is baselined."""
    out = []
    for cat in FINDING_ORDER:
        recs = [r for r in records if r["category"] == cat]
        if not recs:
            continue
        if cat == "kink-convention":
            rows = _kink_rows(recs)
            out.append((cat, rows[:PER_CATEGORY], max(0, len(rows) - PER_CATEGORY)))
            continue
        recs.sort(key=lambda r: (r.get("baselined", False), r["section"], r["claim"],
                                 r["engine"], r["check"]))
        rows = [{"claim": r["claim"], "engine": r["engine"], "check": check_label(r),
                 "line": summary_line(r), "baselined": bool(r.get("baselined")),
                 "probe": bool(r.get("probe"))} for r in recs[:PER_CATEGORY]]
        out.append((cat, rows, len(recs) - len(rows)))
    return out


def readings(result: dict) -> dict | None:
    """The places the notes were read around, the unchecked items, and every claim's reading."""
    extra = (result.get("extras") or {}).get("readings")
    if not isinstance(extra, dict) or "places" not in extra:
        extra = {"places": [], "unchecked": []}
    claims = sorted(((c.get("section", ""), cid, c["reading"])
                     for cid, c in (result.get("claims") or {}).items() if c.get("reading")))
    if not (extra["places"] or extra["unchecked"] or claims):
        return None
    return {"places": extra["places"], "unchecked": extra["unchecked"],
            "claims": [{"section": s, "claim": cid, "reading": rd} for s, cid, rd in claims]}
