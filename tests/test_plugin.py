"""The pytest wiring of conformance runs, driven as a user would: options, claim files, a
plugged-in engine, the gate's exit code, the baseline, and -n 2."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path, *args, oracles="referee,fd", path=None):
    cmd = [sys.executable, "-m", "pytest", "tests/notes", "-q", "-p", "no:cacheprovider",
           "-W", "ignore::DeprecationWarning", "--ad-report-dir", str(tmp_path / "rep"),
           "--ad-oracles", oracles, *args]
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    return p.returncode, p.stdout + p.stderr


def claim_file(tmp_path, body, name="claims.py"):
    path = tmp_path / name
    path.write_text("from oracles.claims import Claim, scalars\n" + textwrap.dedent(body))
    return path


def results(tmp_path):
    return json.loads((tmp_path / "rep" / "results.json").read_text())


def test_help_lists_the_options_with_their_defaults():
    p = subprocess.run([sys.executable, "-m", "pytest", "tests/notes", "--help"], cwd=ROOT,
                       capture_output=True, text=True)
    for opt in ("--ad-subject=MODULE:ATTR", "--ad-oracles=NAMES", "--ad-formulas=PATH",
                "--ad-report-dir=DIR"):
        assert opt in p.stdout
    assert "default: ourad" in p.stdout and "reports/latest" in p.stdout


def test_a_wrong_formula_in_a_user_file_fails_the_run_and_says_why(tmp_path):
    f = claim_file(tmp_path, """
        CLAIMS = [Claim(id="user-wrong-sin", section="Mine", printed=r"(\\sin x)' = -\\cos x",
                        f=lambda xp, x: xp.sin(x), domain=scalars(-2, 2),
                        notes_jvp=lambda xp, t, x: -xp.cos(x) * t[0])]
    """)
    code, out = run(tmp_path, "-k", "user-wrong", "--ad-formulas", str(f))
    assert code == 1, out
    assert "[notes-erratum] claim user-wrong-sin" in out
    assert "tolerance" in out and "reproduce: ad-conformance -k user-wrong-sin --ad-subject ourad" \
        " --ad-oracles referee,fd --ad-formulas " + str(f) in out
    assert results(tmp_path)["summary"]["gate"] == "fail"


def test_a_right_formula_passes(tmp_path):
    f = claim_file(tmp_path, """
        CLAIMS = [Claim(id="user-right-sin", section="Mine", printed=r"(\\sin x)' = \\cos x",
                        f=lambda xp, x: xp.sin(x), domain=scalars(-2, 2),
                        notes_jvp=lambda xp, t, x: xp.cos(x) * t[0])]
    """)
    code, out = run(tmp_path, "-k", "user-right", "--ad-formulas", str(f))
    assert code == 0, out
    assert results(tmp_path)["summary"]["gate"] == "pass"


def test_a_claim_file_with_a_syntax_error_is_named(tmp_path):
    f = tmp_path / "broken.py"
    f.write_text("CLAIMS = [\n  def (:\n")
    code, out = run(tmp_path, "--ad-formulas", str(f))
    assert code != 0 and "broken.py:2: syntax error" in out


def test_a_claim_with_an_unknown_op_is_named(tmp_path):
    f = claim_file(tmp_path, """
        CLAIMS = [Claim(id="user-unknown-op", section="Mine", printed="frobnicate",
                        f=lambda xp, x: xp.frobnicate(x), domain=scalars(-2, 2))]
    """)
    code, out = run(tmp_path, "-k", "user-unknown", "--ad-formulas", str(f))
    assert code == 1
    assert "claims.py: claim 'user-unknown-op'" in out and "frobnicate" in out


def test_a_domain_that_draws_nothing_is_named(tmp_path):
    f = claim_file(tmp_path, """
        CLAIMS = [Claim(id="user-empty-domain", section="Mine", printed="x",
                        f=lambda xp, x: x, domain=scalars(-2, 2).filter(lambda xs: False))]
    """)
    code, out = run(tmp_path, "-k", "user-empty", "--ad-formulas", str(f))
    assert code == 1 and "claim 'user-empty-domain': its domain drew no input" in out


ENGINES = '''
import numpy as np
import ourad
from oracles.ourad_engines import OuradReverse


class ReverseOnly:
    """Right, but offers no forward mode."""
    name = "reverse-only"
    xp = ourad.xp
    jvp = None
    vjp = OuradReverse().vjp


class SlightlyWrong(OuradReverse):
    """Every gradient off by a relative 1e-6."""
    name = "slightly-wrong"

    def vjp(self, f, primals, cotangent):
        out, bars = super().vjp(f, primals, cotangent)
        return out, tuple(b * (1 + 1e-6) for b in bars)
'''


def test_a_plugged_in_engine_without_jvp_is_unsupported_not_failed(tmp_path):
    (tmp_path / "my_engines.py").write_text(ENGINES)
    code, out = run(tmp_path, "-k", "chain-scalar-sin", "--ad-subject",
                    "my_engines:ReverseOnly", path=tmp_path)
    assert code == 0, out
    recs = results(tmp_path)["records"]
    mine = {(r["check"], r["category"]) for r in recs if r["engine"] == "reverse-only"}
    assert ("jvp", "unsupported") in mine and ("vjp", "agree") in mine


def test_a_plugged_in_engine_that_is_wrong_fails_the_gate(tmp_path):
    (tmp_path / "my_engines.py").write_text(ENGINES)
    code, out = run(tmp_path, "-k", "chain-scalar-sin", "--ad-subject",
                    "my_engines:SlightlyWrong", path=tmp_path)
    assert code == 1
    assert "[subject-defect]" in out and "engine slightly-wrong, check vjp" in out


def test_a_baseline_entry_that_no_longer_reproduces_fails_the_run(tmp_path):
    base = tmp_path / "errata.toml"
    base.write_text('[[erratum]]\nclaim = "fwd-table-tangent-rule-v1"\ncheck = "notes-jvp"\n'
                    'explanation = "not an erratum at all"\n')
    code, out = run(tmp_path, "-k", "fwd-table-tangent-rule-v1", "--ad-baseline", str(base))
    assert code == 1 and "STALE baseline entry: fwd-table-tangent-rule-v1" in out


def test_known_errata_pass_the_gate_and_are_reported(tmp_path):
    code, out = run(tmp_path, "-k", "fwd-table-tangent-rule-v6 or affine-printed")
    assert code == 0, out
    errata = [r for r in results(tmp_path)["records"] if r["category"] == "notes-erratum"]
    assert {r["claim"] for r in errata} == {"fwd-table-tangent-rule-v6", "affine-printed-shapes"}
    assert all(r["baselined"] and r["explanation"] for r in errata)


def test_two_workers_give_the_verdicts_of_one(tmp_path):
    sel = "fwd-table-tangent or relu-derivative or chain-scalar-sin"
    code1, out1 = run(tmp_path / "serial", "-k", sel)
    serial = results(tmp_path / "serial")
    code2, out2 = run(tmp_path / "xdist", "-k", sel, "-n", "2")
    parallel = results(tmp_path / "xdist")
    assert code1 == code2 == 0, out1 + out2
    key = lambda r: (r["claim"], r["engine"], r["check"], r["category"],  # noqa: E731
                     r["max_abs_error"])
    assert sorted(map(key, serial["records"])) == sorted(map(key, parallel["records"]))
    assert serial["summary"]["counts"] == parallel["summary"]["counts"]


PROBE = """
import sys


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        open({out!r}, "w").write(" ".join(m for m in ("jax", "torch") if m in sys.modules))
"""


@pytest.mark.parametrize("selection, controller_imports", [
    ("facts or relu-derivative or fwd-table-tangent", ""),   # test_facts runs in a worker
    ("relu-derivative or fwd-table-tangent", "jax torch"),   # deselected: the controller
])
def test_the_facts_come_from_a_worker_or_else_from_the_controller(tmp_path, selection,
                                                                   controller_imports):
    """`test_facts` computes the run's facts (and draws the page's pictures) beside the
    claims, in whichever worker takes it; the controller then imports no engine. Where it is
    deselected, the controller computes them itself: the report has them either way."""
    (tmp_path / "probe_plugin.py").write_text(PROBE.format(out=str(tmp_path / "imported")))
    code, out = run(tmp_path, "-k", selection, "-n", "2", "-p", "probe_plugin",
                    oracles="jax,torch,referee,fd", path=tmp_path)
    assert code == 0, out
    res = results(tmp_path)
    assert res["extras"]["fd_curves"] and res["summary"]["oracles"]["jax"]
    assert (tmp_path / "imported").read_text() == controller_imports


def test_a_reproduce_line_selects_its_claim_alone(tmp_path):
    """pytest's -k matches substrings: `-k op-max` ran op-maximum too."""
    import shlex

    from oracles.claims import find_claim, load_catalogue
    from oracles.reproduce import RunOptions, know_claims, reproduce_line
    know_claims(c.id for c in load_catalogue())   # as the plugin does when it collects
    line = shlex.split(reproduce_line(find_claim("op-max"), RunOptions()))
    expr = line[line.index("-k") + 1]
    assert expr == "op-max and not op-maximum"
    p = subprocess.run([sys.executable, "-m", "pytest", "tests/notes", "--collect-only", "-q",
                        "-p", "no:cacheprovider", "-k", expr], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    picked = [ln for ln in p.stdout.splitlines() if "test_claim[" in ln]
    assert picked == ["tests/notes/test_conformance.py::test_claim[op-max]"], p.stdout[-2000:]
    code, out = run(tmp_path, "-k", expr)   # the run's own records carry the same line
    assert code == 0, out
    assert {r["reproduce"].split(" --")[0] for r in results(tmp_path)["records"]} == {
        "ad-conformance -k 'op-max and not op-maximum'"}


INTERRUPTING = '''
from oracles.ourad_engines import OuradReverse


class Interrupting(OuradReverse):
    """Right, until its vjp has answered `after` times: then a KeyboardInterrupt, as Ctrl-C
    there would raise."""
    name = "interrupting"
    after = 0

    def vjp(self, f, primals, cotangent):
        if type(self).after <= 0:
            raise KeyboardInterrupt
        type(self).after -= 1
        return super().vjp(f, primals, cotangent)


class AtOnce(Interrupting):
    after = 0


class AfterTwoClaims(Interrupting):
    after = 10


class AfterTheClaims(Interrupting):   # in the extras the controller computes at the end
    after = 20
'''

SMALL = ("-k", "op-sin or op-tanh", "--ad-examples", "2")   # four claims


@pytest.mark.parametrize("engine, ran, why", [
    ("AtOnce", 0, "interrupted: 0 of 4 claims ran; the rest were not checked"),
    ("AfterTwoClaims", 2, "interrupted: 2 of 4 claims ran; the rest were not checked"),
    ("AfterTheClaims", 4, "interrupted after all 4 claims ran"),
])
def test_an_interrupted_run_reports_the_claims_that_ran_and_fails(tmp_path, engine, ran, why):
    """An earlier run's passing report is replaced, not left to say PASS: the new one holds
    the records of the claims that finished, and the terminal, results.json and the exit
    status say the run was interrupted and how many claims ran."""
    code, out = run(tmp_path, *SMALL)
    assert code == 0 and results(tmp_path)["summary"]["gate"] == "pass", out
    (tmp_path / "my_engines.py").write_text(INTERRUPTING)
    code, out = run(tmp_path, *SMALL, "--ad-subject", f"my_engines:{engine}", path=tmp_path)
    assert code == 2, out
    assert f"gate: FAIL ({why})" in out, out
    s = results(tmp_path)["summary"]
    assert s["subject"] == f"my_engines:{engine}"
    assert (s["gate"], s["gate_reasons"], s["claims_run"], s["claims_selected"]) == \
        ("fail", [why], ran, 4)
    assert len({r["claim"] for r in results(tmp_path)["records"]}) == ran
    assert why in (tmp_path / "rep" / "index.html").read_text()


def test_an_interrupt_in_a_worker_is_reported_by_the_controller(tmp_path):
    """Under pytest-xdist a worker's KeyboardInterrupt stops the run (xdist's `Interrupted`
    on the controller), which writes what the workers handed in."""
    (tmp_path / "my_engines.py").write_text(INTERRUPTING)
    code, out = run(tmp_path, *SMALL, "-n", "2", "--ad-subject", "my_engines:AtOnce",
                    path=tmp_path)
    assert code == 2, out
    s = results(tmp_path)["summary"]
    assert s["gate"] == "fail" and s["claims_selected"] == 4 and s["claims_run"] < 4, s
    assert s["gate_reasons"] == [f"interrupted: {s['claims_run']} of 4 claims ran; the rest "
                                 "were not checked"]
    assert f"gate: FAIL ({s['gate_reasons'][0]})" in out


@pytest.mark.parametrize("workers", [(), ("-n", "2")])
def test_a_run_stopped_by_maxfail_says_how_many_claims_ran(tmp_path, workers):
    (tmp_path / "my_engines.py").write_text(ENGINES)
    code, out = run(tmp_path, *SMALL, "-x", *workers, "--ad-subject",
                    "my_engines:SlightlyWrong", path=tmp_path)
    assert code != 0, out
    s = results(tmp_path)["summary"]
    assert s["gate"] == "fail" and s["claims_selected"] == 4 and s["claims_run"] < 4, s
    assert s["gate_reasons"][0] == (f"stopped early (stopping after 1 failures): "
                                    f"{s['claims_run']} of 4 claims ran; the rest were not "
                                    "checked"), s
    assert "gate: FAIL (stopped early (stopping after 1 failures): " in out


def test_a_negative_seed_is_a_usage_error(tmp_path):
    code, out = run(tmp_path, "-k", "op-sin", "--ad-seed", "-1")
    assert code == 4, out
    assert "--ad-seed -1: expected a seed, 0 or more" in out and "Traceback" not in out, out
    assert not (tmp_path / "rep").exists()


def test_a_selection_that_matches_no_claim_replaces_the_previous_report_with_a_failure(tmp_path):
    """`-k` matching no claim: pytest exits 5 ("no tests collected"), and the report of an
    earlier run in the same directory must not stand as this run's verdict."""
    code, out = run(tmp_path, "-k", "relu-derivative")
    assert code == 0 and results(tmp_path)["summary"]["gate"] == "pass", out
    code, out = run(tmp_path, "-k", "no_claim_is_called_this")
    summary = results(tmp_path)["summary"]
    assert code == 5, out
    assert summary["gate"] == "fail" and summary["claims_run"] == 0
    assert summary["gate_reasons"] == ["no claim was selected (-k, -m or the paths given "
                                       "matched none): nothing was checked"]
    assert "gate: FAIL (no claim was selected" in out
    assert 'class="verdict fail"' in (tmp_path / "rep" / "index.html").read_text()


def test_a_claim_collected_twice_is_one_claim_selected(tmp_path):
    """Two paths to the same claim module collect each claim twice; it runs, and the gate
    does not count the second item as a claim that did not run."""
    cmd = [sys.executable, "-m", "pytest", "tests/notes/test_conformance.py",
           "oracles/catalogue/test_conformance.py", "-q", "-p", "no:cacheprovider",
           "-k", "op-sin and not facts", "--ad-oracles", "referee,fd", "--ad-examples", "2",
           "--ad-report-dir", str(tmp_path / "rep")]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    summary = results(tmp_path)["summary"]
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert summary["gate"] == "pass" and summary["claims_selected"] == 1
