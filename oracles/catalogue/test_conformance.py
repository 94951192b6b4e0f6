"""The conformance run: every claim of the catalogue (and of --ad-formulas files) through the
subject and every oracle. A claim's test fails when a record of it fails the gate; everything
else passes and goes to the report. Collected by `ad-conformance`, by
`pytest --pyargs oracles.catalogue` and (re-exported) by `pytest tests/notes`."""
import json

import pytest

from oracles.explain import explain
from oracles.verdict import is_failure


def test_facts(ad_session, record_property, request):
    """The run's facts (engine versions, the report's trace tables, curves, kinks and costs)
    and the page's pictures, as a test of their own, collected before the claims: under
    pytest-xdist whichever worker is free takes it beside the claims, where computing it
    after a worker's last claim kept the others waiting; the controller, which runs no claim,
    imports no engine. Never fails: where the facts cannot be computed here (or this test is
    deselected), the controller computes them."""
    try:
        facts = ad_session.facts()
    except Exception:  # noqa: BLE001 -- the controller then computes them
        return
    record_property("ad_facts", json.dumps(facts, default=str))
    printed = [item.callspec.params["ad_claim"].printed for item in request.session.items
               if "ad_claim" in getattr(getattr(item, "callspec", None), "params", {})]
    try:
        from reports.writer import draw_pictures
    except ImportError:
        return
    draw_pictures(printed, facts.get("extras", {}))   # into the cache the page reads


def test_claim(ad_claim, ad_session, record_property):
    records = ad_session.check(ad_claim)     # never raises: a failure becomes a record
    record_property("ad_records", json.dumps({"claim": ad_claim.id, "records": records}))
    baseline = getattr(ad_session, "baseline", None)
    if baseline is None:
        from oracles.gate import load_baseline
        baseline = ad_session.baseline = load_baseline(ad_session.baseline_path)
    from oracles.gate import mark_baselined
    mark_baselined(records, baseline)
    failures = [r for r in records if is_failure(r, ad_session.options.strict)]
    if failures:
        pytest.fail("\n".join(explain(r) for r in failures), pytrace=False)
