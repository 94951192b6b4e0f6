"""The conformance run: every claim of the catalogue (and of --ad-formulas files) through the
subject and every oracle. A claim's test fails on a subject defect or on a notes erratum that
the baseline does not list; everything else passes and goes to the report."""
import json

import pytest

from oracles.gate import is_failure, load_baseline, mark_baselined
from oracles.harness import ClaimError


def _explain(rec: dict) -> str:
    lines = [f"[{rec['category']}] claim {rec['claim']} ({rec['section']}), engine "
             f"{rec['engine']}, check {rec['check']}"]
    if rec.get("inputs") is not None:
        lines.append(f"  inputs: {rec['inputs']}")
    if rec.get("values"):
        lines.append(f"  values: {rec['values']}")
    if rec.get("max_abs_error") is not None:
        lines.append(f"  error: {rec['max_abs_error']:.3g} (relative {rec['max_rel_error']:.3g})"
                     f"; tolerance {rec['tolerance']:.3g}; reference {rec.get('reference')}")
    if rec.get("detail"):
        lines.append("  " + rec["detail"].replace("\n", "\n    "))
    lines.append(f"  reproduce: {rec['reproduce']}")
    return "\n".join(lines)


def test_claim(claim, ad_session, record_property):
    try:
        records = ad_session.check(claim)
    except ClaimError as exc:
        pytest.fail(str(exc), pytrace=False)
    record_property("ad_records", json.dumps({"claim": claim.id, "records": records}))
    mark_baselined(records, load_baseline(ad_session.baseline_path))
    failures = [r for r in records if is_failure(r)]
    if failures:
        pytest.fail("\n".join(_explain(r) for r in failures), pytrace=False)
