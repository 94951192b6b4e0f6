"""The conformance run: every claim of the catalogue (and of --ad-formulas files) through the
subject and every oracle. A claim's test fails when a record of it fails the gate; everything
else passes and goes to the report. Collected by `ad-conformance`, by
`pytest --pyargs oracles.catalogue` and (re-exported) by `pytest tests/notes`."""
import json

import pytest

from oracles.explain import explain
from oracles.verdict import is_failure


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
