"""Shrunk counterexamples: a subject's failing JVP, VJP or value check is shrunk by Hypothesis
to the simplest input at which it still fails, reported beside the drawn one, the same in every
run under `ci`, with a snippet that shows the failure there. Run as a user runs it
(`ad-conformance` from a directory outside the repository), and in process for what a run
cannot arrange (a harness that fails while shrinking, an engine that fails only once)."""
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import find
from hypothesis import strategies as st

import oracles
from oracles.claims import load_catalogue
from oracles.harness import Drawn, Harness, draw_inputs, given_domain
from oracles.reproduce import SHRINK_CALLS, RunOptions
from test_broken_subjects import ENGINES, conformance, results

CLAIM = "chain-scalar-sin-exp-tanh"     # one input drawn from [-3, 3]
ENGINE = "wrong-above-one"              # doubles every derivative where some |x| > 1
ARGS = ("--ad-subject", "broken:WrongAboveOne")   # three inputs; the third has |x| > 1


def _run(tmp_path, *extra):
    code, out = conformance(tmp_path, *ARGS, *extra, claims=CLAIM)
    assert code == 1, out
    return results(tmp_path), out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same command twice, and once with shrinking off."""
    return {name: _run(tmp_path_factory.mktemp(name), *extra) for name, extra in
            (("first", ()), ("second", ()), ("off", ("--ad-shrink", "0")))}


def _defects(res):
    recs = [r for r in res["records"] if r["engine"] == ENGINE and r["check"] in ("jvp", "vjp")
            and r["dtype"] == "float64"]       # float32 records keep their drawn input
    assert recs and all(r["category"] == "subject-defect" for r in recs), recs
    return recs


def _simplest_failing():
    """Hypothesis's own simplest x in the claim's domain where the engine is wrong."""
    return find(st.floats(-3.0, 3.0), lambda x: abs(x) > 1.0)


def test_the_failing_input_is_shrunk_to_the_simplest_that_still_fails(runs):
    res, out = runs["first"]
    for r in _defects(res):
        drawn, s = r["inputs"][0], r["shrunk"]
        assert abs(drawn) > 1.0 and s is not None, r["detail"]
        assert s["x"] == [_simplest_failing()] == [2.0] and s["inputs"] == [2.0]
        assert drawn != 2.0 and not s["is_drawn"]
        got, want = s["values"]["got"][0], s["values"]["reference"][0]
        assert got == pytest.approx(2.0 * want, rel=1e-12) and want != 0.0  # still fails
        assert s["complete"] and 1 <= s["checks"] <= SHRINK_CALLS
        assert "not shrunk" not in r["detail"]
    assert "shrunk to [2.0]: got" in out


def test_the_report_card_shows_the_shrunk_input_beside_the_drawn_one(runs):
    res, _ = runs["first"]
    from reports.writer import render
    html = render(res)
    rows = re.findall(r'<tr class="shrunk">(.*?)</tr>', html)
    assert len(rows) == 2 and all("<code>[2.0]</code>" in row for row in rows), rows
    drawn = _defects(res)[0]["inputs"]
    assert f"<code>{drawn}</code> <span class=\"small\">(drawn)</span>" in html
    # a results.json from before shrinking (no `shrunk` key) renders as it did
    old = dict(res, records=[{k: v for k, v in r.items() if k != "shrunk"}
                             for r in res["records"]])
    assert 'class="shrunk"' not in render(old) and "(drawn)" not in render(old)


def test_the_shrunk_input_is_the_same_in_every_ci_run(runs):
    first, second = _defects(runs["first"][0]), _defects(runs["second"][0])
    assert [r["shrunk"] for r in first] == [r["shrunk"] for r in second]
    assert [r["detail"] for r in first] == [r["detail"] for r in second]


def test_the_snippet_shows_the_failure_at_the_shrunk_input(runs, tmp_path):
    for r in _defects(runs["first"][0]):
        code = r["detail"][r["detail"].index("# at the shrunk input"):]
        assert "x = [np.array(2.0)]" in code, code
        p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120, env=_env())
        assert p.returncode == 0, p.stderr
        got, want = (float(re.search(rf"{who}: +\[?([-+.e\d]+)", p.stdout).group(1))
                     for who in ("subject", "reference"))
        assert got == pytest.approx(2.0 * want, rel=1e-12) and want != 0.0, p.stdout


def _env():
    import os
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ENGINES), os.environ.get("PYTHONPATH")])))


def test_only_failing_derivative_and_value_records_of_the_subject_are_shrunk(runs):
    res, _ = runs["first"]
    shrunk = {(r["engine"], r["check"]) for r in res["records"] if r.get("shrunk")}
    assert shrunk == {(ENGINE, "jvp"), (ENGINE, "vjp")}
    # the run's other defects (taylor, jacobian) and every agreeing record go without
    assert any(r["category"] == "subject-defect" and r["check"] == "taylor"
               for r in res["records"])


def test_shrinking_off_leaves_the_record_as_drawn_and_the_reproduce_line_says_so(runs):
    res, _ = runs["off"]
    recs = _defects(res)
    assert all(r["shrunk"] is None for r in recs)
    assert all("--ad-shrink 0" in r["reproduce"] for r in recs)
    assert all("--ad-shrink" not in r["reproduce"] for r in _defects(runs["first"][0]))
    assert [r["inputs"] for r in recs] == [r["inputs"] for r in _defects(runs["first"][0])]


# --- in process ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def parts():
    sys.path.insert(0, str(ENGINES))
    import broken
    claim = next(c for c in load_catalogue() if c.id == CLAIM)
    return broken, claim, {n: oracles.engine(n) for n in ("referee", "fd")}


def _harness(engine, oracle_engines, shrink=SHRINK_CALLS):
    return Harness([engine], oracle_engines, options=RunOptions(subject="broken:X",
                                                                shrink=shrink))


def _failing(recs, check="jvp"):
    return next(r for r in recs if r.check == check and r.category == "subject-defect")


def test_a_right_engine_has_nothing_shrunk(parts):
    broken, claim, orc = parts
    recs = _harness(broken.Right(), orc).run_claim(claim, draw_inputs(claim, 8))
    assert recs and all(r.shrunk is None and "shrunk" not in r.detail for r in recs)


def test_a_harness_built_without_options_does_not_shrink(parts):
    broken, claim, orc = parts
    recs = Harness([broken.WrongAboveOne()], orc).run_claim(claim, draw_inputs(claim, 8))
    assert _failing(recs).shrunk is None


def test_the_budget_bounds_the_checks(parts):
    broken, claim, orc = parts
    rec = _failing(_harness(broken.WrongAboveOne(), orc, shrink=1).run_claim(
        claim, draw_inputs(claim, 3)))
    s = rec.shrunk
    assert s["checks"] == 1 and not s["complete"] and "budget of 1" in s["stopped"]
    assert s["is_drawn"] and s["x"] == rec.inputs   # the one check confirmed the drawn input


def test_a_failure_that_does_not_recur_is_not_shrunk(parts):
    """An engine wrong at its first call only: the record stands, nothing is invented."""
    broken, claim, orc = parts
    eng = broken.WrongOnce()
    rec = _failing(_harness(eng, orc, shrink=20).run_claim(claim, draw_inputs(claim, 3)))
    assert rec.shrunk is None
    assert "not shrunk: the check did not fail again at any input drawn" in rec.detail


def _unshrunk(parts, monkeypatch, name, value, n):
    """WrongAboveOne's failing record, with `oracles.shrink.<name>` replaced by `value`: a
    defect that stands without a shrunk input."""
    import oracles.shrink as shrink
    monkeypatch.setattr(shrink, name, value)
    broken, claim, orc = parts
    rec = _failing(_harness(broken.WrongAboveOne(), orc).run_claim(
        claim, draw_inputs(claim, n)))
    assert rec.category == "subject-defect" and rec.shrunk is None
    return rec


def test_a_harness_failure_while_shrinking_keeps_the_record(parts, monkeypatch):
    def broken_check(*a, **k):
        raise RuntimeError("the reference broke")
    rec = _unshrunk(parts, monkeypatch, "check_at", broken_check, 8)
    assert "not shrunk: the check could not be run at a candidate: RuntimeError: the " \
        "reference broke" in rec.detail


def test_inputs_not_drawn_by_the_run_are_searched_for_within_the_budget(parts):
    """A point the draw never meets: every input drawn is checked, and one that fails is
    shrunk; the shrunk input fails all the same."""
    broken, claim, orc = parts
    rec = _failing(_harness(broken.WrongAboveOne(), orc).run_claim(
        claim, [(np.array(-2.75),)]))
    assert rec.shrunk["x"] == [2.0] and not rec.shrunk["is_drawn"]


def test_a_randomized_draw_is_drawn_again_from_its_kept_seed(parts):
    from hypothesis import Phase
    _, claim, _ = parts
    a, b = draw_inputs(claim, 8, "thorough"), draw_inputs(claim, 8, "thorough")
    assert isinstance(a, Drawn) and a.seed != b.seed
    again: list = []
    given_domain(claim, a.n, a.seed, [Phase.generate], lambda x: again.append(x))
    assert [float(x[0]) for x in again[:len(a)]] == [float(x[0]) for x in a]


def test_a_wrong_primal_value_is_shrunk_too(parts):
    broken, claim, orc = parts
    recs = _harness(broken.WrongPrimal(), orc).run_claim(claim, draw_inputs(claim, 3))
    rec = _failing(recs, "value")
    assert rec.shrunk["x"] == [0.0]          # wrong everywhere: Hypothesis's simplest float
    assert rec.shrunk["is_drawn"] == (rec.inputs == [0.0])
    got, want = rec.shrunk["values"]["got"][0], rec.shrunk["values"]["reference"][0]
    assert got == pytest.approx(want + 1.0)


def test_the_option_default_is_the_budget_and_a_negative_one_is_a_usage_error(tmp_path):
    from oracles import plugin
    assert plugin._SHRINK_CALLS == SHRINK_CALLS
    assert RunOptions(shrink=7).args()[-2:] == ["--ad-shrink", "7"]
    assert "--ad-shrink" not in RunOptions().args()
    code, out = conformance(tmp_path, "--ad-shrink", "-1")
    assert code == 4 and "--ad-shrink -1: expected a number of checks" in out, out


def test_the_time_cap_stops_shrinking_and_says_so(parts, monkeypatch):
    rec = _unshrunk(parts, monkeypatch, "SHRINK_SECONDS", 0.0, 3)
    assert "not shrunk: stopped before the check failed again (0 checks; its time cap of 0 s " \
        "was reached)" in rec.detail
