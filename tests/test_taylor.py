"""The Taylor check (oracles/checks/taylor.py): the remainder of a right JVP converges at rate
2, of a wrong one at rate 1; it decides nothing where f is linear along v or the remainder is
at roundoff; a conformance run fails an engine whose JVP is wrong through a `taylor` record."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from oracles.checks.taylor import along, rates

f = lambda xp, x, y: xp.sin(x) * xp.exp(y)  # noqa: E731
X = [np.array(0.7), np.array(-0.3)]
V = [np.array(0.6), np.array(-1.1)]
JV = np.cos(0.7) * np.exp(-0.3) * 0.6 + np.sin(0.7) * np.exp(-0.3) * -1.1


def test_a_right_jvp_converges_at_rate_two():
    _, rate, why = rates(*along(f, X, V), JV)
    assert rate == pytest.approx(2.0, abs=0.1), why


@pytest.mark.parametrize("wrong", [JV * 1.01, -JV, JV + 1e-4])
def test_a_wrong_jvp_converges_at_rate_one(wrong):
    _, rate, why = rates(*along(f, X, V), wrong)
    assert rate == pytest.approx(1.0, abs=0.1), why


def test_linear_along_v_decides_nothing():
    g = lambda xp, x, y: 3.0 * x - 2.0 * y  # noqa: E731
    _, rate, why = rates(*along(g, X, V), 3.0 * 0.6 - 2.0 * -1.1)
    assert rate is None and "roundoff" in why


def test_a_jvp_that_is_not_finite_is_named_as_the_reason_not_roundoff():
    _, rate, why = rates(*along(f, X, V), np.nan)
    assert rate is None and "not finite" in why and "roundoff" not in why


def test_a_kink_crossed_by_the_large_steps_does_not_fool_it():
    g = lambda xp, x: xp.abs(x) ** 2 + xp.abs(x)  # noqa: E731   kink at 0
    x, v = [np.array(1e-4)], [np.array(-1.0)]
    _, rate, _ = rates(*along(g, x, v), -(2e-4 + 1.0))
    assert rate == pytest.approx(2.0, abs=0.1)


ENGINE = '''
from oracles.ourad_engines import OuradForward


class SlightlyWrongJvp(OuradForward):
    """Every JVP off by a relative 1e-3; the VJP is right."""
    name = "slightly-wrong-jvp"
    vjp = None

    def jvp(self, f, primals, tangents):
        out, t = super().jvp(f, primals, tangents)
        return out, t * (1 + 1e-3)
'''


def test_a_conformance_run_fails_a_wrong_jvp_through_taylor(tmp_path):
    (tmp_path / "wrong_jvp.py").write_text(ENGINE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    p = subprocess.run([sys.executable, "-m", "oracles", "-q", "-p", "no:cacheprovider",
                        "-W", "ignore::DeprecationWarning", "--ad-subject",
                        "wrong_jvp:SlightlyWrongJvp", "--ad-oracles", "referee,fd",
                        "--ad-examples", "3", "-k", "chain-scalar-sin-exp-tanh or fwd-example-f"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    res = json.loads((tmp_path / "ad-report" / "results.json").read_text())
    assert p.returncode == 1, p.stdout
    taylor = {r["claim"]: r for r in res["records"] if r["check"] == "taylor"}
    assert set(taylor) == {"chain-scalar-sin-exp-tanh", "fwd-example-f"}
    for r in taylor.values():
        assert r["category"] == "subject-defect", r
        assert r["values"]["rate"] == pytest.approx(1.0, abs=0.25)
    example = res["extras"]["taylor"]["subjects"][0]
    assert example["engine"] == "slightly-wrong-jvp" and example["rate"] == pytest.approx(1, abs=.1)
    html = (tmp_path / "ad-report" / "index.html").read_text()
    assert 'id="taylor-plot"' in html                       # the notes' example
    assert html.count('class="plot taylor-plot"') == 2      # one per failing Taylor record
