"""Claim-file faults are blamed on the claim file, never on the notes: what can be told at load
time is one usage error naming the file and the claim; the rest is a `claim-error` record of
that claim, which fails the gate and can never be baselined as an erratum. Paths are shown
relative to the working directory when they lie under it."""
import json
import os
import subprocess
import sys
import textwrap

import pytest


def conformance(tmp_path, body, *args):
    path = tmp_path / "my_claims.py"
    path.write_text("import numpy as np\nfrom oracles.claims import Claim, Kink, Printed, scalars\n"
                    + textwrap.dedent(body))
    cmd = [sys.executable, "-m", "oracles", "-q", "-p", "no:cacheprovider",
           "-W", "ignore::DeprecationWarning", "--ad-oracles", "referee,fd",
           "--ad-examples", "3", "--ad-report-dir", str(tmp_path / "rep"),
           "--ad-formulas", str(path), "-k", "user-", *args]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ))
    return p.returncode, p.stdout + p.stderr, path


def records(tmp_path):
    return json.loads((tmp_path / "rep" / "results.json").read_text())


LOAD_TIME = [
    ("notes_jvp with the wrong arity", """
        CLAIMS = [Claim(id="user-arity", section="Mine", printed="x",
                        f=lambda xp, x, y: x * y, domain=scalars(-2, 2, -2, 2),
                        notes_jvp=lambda xp, t, x: t[0] * x)]
     """, "notes_jvp must take (xp, tangents, *arrays) = 4 arguments"),
    ("a printed value in words", """
        CLAIMS = [Claim(id="user-words", section="Mine", printed="x",
                        values=(Printed("three", "about three", lambda ctx: 3.0),))]
     """, "'about three' is not a number"),
    ("a printed nan", """
        CLAIMS = [Claim(id="user-nan", section="Mine", printed="x",
                        values=(Printed("nan", "nan", lambda ctx: 3.0),))]
     """, "'nan' is not a finite number"),
    ("a kink with lo above hi", """
        CLAIMS = [Claim(id="user-kink-order", section="Mine", printed="|x|",
                        f=lambda xp, x: xp.abs(x), domain=scalars(-2, 2),
                        kinks=(Kink(at=lambda x: x == 0, lo=1.0, hi=-1.0, text="x = 0"),))]
     """, "lo 1.0 > hi -1.0"),
]


@pytest.mark.parametrize("what, body, message", LOAD_TIME, ids=[t[0] for t in LOAD_TIME])
def test_a_fault_seen_at_load_time_is_one_usage_error(tmp_path, what, body, message):
    code, out, path = conformance(tmp_path, body)
    assert code == 4, out
    assert f"{path.name}: claim 'user-" in out and message in out, out
    assert "Traceback" not in out and out.count(message) == 1, out


RUN_TIME = [
    ("notes_vjp with too few entries", """
        CLAIMS = [Claim(id="user-vjp-entries", section="Mine", printed="x y",
                        f=lambda xp, x, y: x * y, domain=scalars(-2, 2, -2, 2),
                        notes_vjp=lambda xp, g, x, y: (g * y,))]
     """, "notes-vjp", "notes_vjp must return one entry per input (2)"),
    ("notes_jvp that raises", """
        CLAIMS = [Claim(id="user-jvp-raises", section="Mine", printed="sin x",
                        f=lambda xp, x: xp.sin(x), domain=scalars(-2, 2),
                        notes_jvp=lambda xp, t, x: xp.cosine(x) * t[0])]
     """, "notes-jvp", "cosine"),
    ("a compute that returns no number", """
        CLAIMS = [Claim(id="user-compute-str", section="Mine", printed="x",
                        values=(Printed("three", "3.0", lambda ctx: "three"),))]
     """, "printed", "three"),
    ("a Kink.at that raises", """
        def at(x):
            raise RuntimeError("kink test exploded")
        CLAIMS = [Claim(id="user-kink-raises", section="Mine", printed="|x|",
                        f=lambda xp, x: xp.abs(x), domain=scalars(-2, 2),
                        kinks=(Kink(at=at, lo=-1.0, hi=1.0, text="x = 0"),))]
     """, "claim", "Kink.at raised"),
]


@pytest.mark.parametrize("what, body, check, message", RUN_TIME, ids=[t[0] for t in RUN_TIME])
def test_a_fault_seen_at_run_time_is_a_claim_error(tmp_path, what, body, check, message):
    code, out, path = conformance(tmp_path, body)
    res = records(tmp_path)
    assert code == 1 and res["summary"]["gate"] == "fail", out
    assert "gate: FAIL" in out
    mine = [r for r in res["records"] if r["claim"].startswith("user-")]
    assert mine, out
    assert not [r for r in mine if r["category"] == "notes-erratum"], mine
    errors = [r for r in mine if r["category"] == "claim-error"]
    assert errors and all(r["check"].startswith(check) for r in errors), errors
    assert any(f"{path.name}: claim 'user-" in r["detail"] and message in r["detail"] for r in errors), errors
