"""The autograd adapter of examples/autograd_engine.py against derivatives worked by hand."""
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("autograd")

_PATH = Path(__file__).resolve().parent.parent / "examples" / "autograd_engine.py"
_spec = importlib.util.spec_from_file_location("autograd_engine", _PATH)
autograd_engine = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(autograd_engine)

ENGINE, BUGGY = autograd_engine.AutogradEngine(), autograd_engine.AutogradMaxBug()


def test_sin_times_y_against_its_hand_derivatives():
    rng = np.random.default_rng(0)
    x, y, tx, ty, u = (rng.standard_normal(3) for _ in range(5))
    f = lambda xp, a, b: xp.sin(a) * b  # noqa: E731
    out, t = ENGINE.jvp(f, [x, y], [tx, ty])
    np.testing.assert_allclose(out, np.sin(x) * y, rtol=1e-15)
    np.testing.assert_allclose(t, np.cos(x) * y * tx + np.sin(x) * ty, rtol=1e-14)
    out, (xb, yb) = ENGINE.vjp(f, [x, y], u)
    np.testing.assert_allclose(xb, u * np.cos(x) * y, rtol=1e-14)
    np.testing.assert_allclose(yb, u * np.sin(x), rtol=1e-14)


def test_sum_of_matmul_against_its_hand_derivatives():
    rng = np.random.default_rng(1)
    A, B, tA, tB = (rng.standard_normal(s) for s in [(2, 3), (3, 4), (2, 3), (3, 4)])
    f = lambda xp, a, b: xp.sum(xp.matmul(a, b))  # noqa: E731
    out, t = ENGINE.jvp(f, [A, B], [tA, tB])
    np.testing.assert_allclose(t, np.sum(tA @ B + A @ tB), rtol=1e-13)
    out, (Ab, Bb) = ENGINE.vjp(f, [A, B], np.array(2.0))
    np.testing.assert_allclose(Ab, 2.0 * np.ones((2, 4)) @ B.T, rtol=1e-14)
    np.testing.assert_allclose(Bb, 2.0 * A.T @ np.ones((2, 4)), rtol=1e-14)


def test_maximum_with_zero_away_from_the_kink():
    z = np.array([-1.5, -0.2, 0.3, 2.0])
    relu = lambda xp, a: xp.maximum(a, 0.0)  # noqa: E731
    _, t = ENGINE.jvp(relu, [z], [np.ones(4)])
    _, (zb,) = ENGINE.vjp(relu, [z], np.ones(4))
    np.testing.assert_array_equal(t, [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(zb, [0.0, 0.0, 1.0, 1.0])


def test_reductions_along_an_axis():
    x = np.array([[1.0, 4.0, 2.0], [3.0, -1.0, 0.5]])
    u = np.array([2.0, -3.0])
    _, (xb,) = ENGINE.vjp(lambda xp, a: xp.max(a, axis=1), [x], u)
    np.testing.assert_array_equal(xb, [[0.0, 2.0, 0.0], [-3.0, 0.0, 0.0]])
    _, t = ENGINE.jvp(lambda xp, a: xp.sum(a * a, axis=0, keepdims=True), [x], [np.ones_like(x)])
    np.testing.assert_allclose(t, 2.0 * np.sum(x, axis=0, keepdims=True))
    assert t.shape == (1, 3)


def test_outputs_are_float64_arrays_shaped_as_the_protocol_says():
    x, W = np.array(0.7), np.ones((2, 3))
    f = lambda xp, a, b: xp.sin(a) + 0.0 * xp.sum(b)   # 0-d output  # noqa: E731
    out, t = ENGINE.jvp(f, [x, W], [np.array(1.0), np.zeros((2, 3))])
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64
    assert isinstance(t, np.ndarray) and t.shape == () and t.dtype == np.float64
    out, bars = ENGINE.vjp(f, [x, W], np.array(1.0))
    assert isinstance(bars, tuple) and [b.shape for b in bars] == [(), (2, 3)]
    assert all(isinstance(b, np.ndarray) and b.dtype == np.float64 for b in bars)
    _, bars = ENGINE.vjp(lambda xp, a, b: 2.0 * a, [x, W], np.array(1.0))   # b unused
    np.testing.assert_array_equal(bars[1], np.zeros((2, 3)))


def test_own_jvp_against_own_vjp():
    """<u, J v> = <J^T u, v> on a formula that mixes broadcasting, where, concat and matmul."""
    rng = np.random.default_rng(2)
    def f(xp, x, W, b):
        z = xp.tanh(xp.matmul(x, xp.matrix_transpose(W)) + xp.broadcast_to(b, (5, 4)))
        return xp.concat([xp.where(z > 0, z, 0.1 * z), xp.exp(-xp.square(z))], axis=1)
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    v = [rng.standard_normal(a.shape) for a in (x, W, b)]
    u = rng.standard_normal((5, 8))
    _, Jv = ENGINE.jvp(f, [x, W, b], v)
    _, JTu = ENGINE.vjp(f, [x, W, b], u)
    assert np.sum(u * Jv) == pytest.approx(sum(np.sum(g * w) for g, w in zip(JTu, v)), rel=1e-13)


def test_namespace_has_standard_names_only_and_works_around_autograd_gaps():
    for name in ("relu", "sigmoid", "softmax", "logsumexp"):
        with pytest.raises(AttributeError):
            getattr(ENGINE.xp, name)
    assert not hasattr(ENGINE.xp, "concatenate")         # NumPy's name, not the standard's
    x = np.array([1.0, -2.0])
    _, (xb,) = ENGINE.vjp(lambda xp, a: xp.concat([a, 3.0 * a]), [x], np.ones(4))
    np.testing.assert_array_equal(xb, [4.0, 4.0])         # autograd.numpy.concat would give 0
    _, (xb,) = ENGINE.vjp(lambda xp, a: xp.where(a > 0, a, 0.0), [x], np.ones(2))
    np.testing.assert_array_equal(xb, [1.0, 0.0])
    _, (xb,) = ENGINE.vjp(lambda xp, a: xp.broadcast_to(a, (3, 2)), [x], np.ones((3, 2)))
    np.testing.assert_array_equal(xb, [3.0, 3.0])
    assert type(ENGINE.xp.greater(x, 0.0)) is np.ndarray


def test_the_planted_bug_gives_maximum_slope_one_below_zero():
    z = np.array([-1.5, 0.8])
    relu = lambda xp, a: xp.maximum(a, 0.0)  # noqa: E731
    for engine, want in ((ENGINE, [0.0, 1.0]), (BUGGY, [1.0, 1.0])):
        _, t = engine.jvp(relu, [z], [np.ones(2)])
        _, (zb,) = engine.vjp(relu, [z], np.ones(2))
        np.testing.assert_array_equal(t, want)
        np.testing.assert_array_equal(zb, want)
    assert "bug" in BUGGY.name


# --- through the conformance run, as a user runs it -------------------------------------------

def _conformance(tmp_path, subject, claims):
    import json
    import os
    import subprocess
    import sys
    examples = Path(__file__).resolve().parent.parent / "examples"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(examples), os.environ.get("PYTHONPATH")])))
    p = subprocess.run([sys.executable, "-m", "oracles", "-q", "-W", "ignore::DeprecationWarning",
                        "--ad-subject", subject, "--ad-oracles", "referee,fd", "--ad-examples",
                        "8", "--ad-report-dir", str(tmp_path / "rep"), "-k", claims],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, json.loads((tmp_path / "rep" / "results.json").read_text()), p.stdout


CLAIMS = "relu or chain-scalar-sin-exp-tanh or backward-loop-relu or op-maximum or op-add"


def test_the_adapter_passes_with_every_check_answered(tmp_path):
    code, res, out = _conformance(tmp_path, "autograd_engine:AutogradEngine", CLAIMS)
    assert code == 0 and res["summary"]["gate"] == "pass", out
    assert not [r for r in res["records"] if r.get("blame")]
    cov = res["summary"]["coverage"]
    assert cov["total"] > 0 and cov["answered"] == cov["total"], out


def test_a_planted_bug_in_the_adapters_maximum_is_caught(tmp_path):
    code, res, out = _conformance(tmp_path, "autograd_engine:AutogradMaxBug", CLAIMS)
    assert code == 1 and res["summary"]["gate"] == "fail", out
    bad = {r["claim"] for r in res["records"] if r["category"] == "subject-defect"}
    assert "relu-derivative" in bad and "mlp-backward-loop-relu-identity-sqerr" in bad, bad


def test_the_report_is_about_the_plugged_in_subject(tmp_path):
    """The trace tables are computed by the subject and say so; the subject's column comes
    first; the cost table says whose counts are whose; findings lead, above the matrix."""
    code, res, out = _conformance(tmp_path, "autograd_engine:AutogradMaxBug",
                                  "relu-derivative or fwd-table-inputs")
    trace = res["extras"]["trace"]
    name = "autograd-planted-maximum-bug"
    assert trace["computed_by"] == {"forward": name, "adjoint": name}
    assert trace["forward"][2]["computed_tangent"] == pytest.approx(2.0)   # v_1-dot at the seed
    assert "not counted" in res["extras"]["costs"]["subject_note"]
    html = (tmp_path / "rep" / "index.html").read_text()
    assert f"computed tangent ({name})" in html and f"adjoint ({name})" in html
    head = html[html.index('id="matrix-table"'):]
    assert head.index(f"<th>{name}</th>") < head.index("<th>referee</th>")
    findings = html.index('id="findings"')
    assert findings < html.index('id="matrix-table"')
    defect = html[findings:html.index('id="readings"')]
    assert "subject-defect" in defect and 'href="#claim-relu-derivative"' in defect


def _numbers(line):
    return [float(m) for m in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", line.split(":", 1)[1])]


def test_the_reproduce_line_and_snippet_of_a_plugged_in_failure_give_the_same_numbers(tmp_path):
    code, res, out = _conformance(tmp_path, "autograd_engine:AutogradMaxBug", "relu-derivative")
    assert code == 1, out
    rec = next(r for r in res["records"]
               if r["category"] == "subject-defect" and r["check"] in ("jvp", "vjp"))
    line = shlex.split(rec["reproduce"])
    assert line[0] == "ad-conformance" and "--ad-subject" in line, line
    assert line[line.index("--ad-subject") + 1] == "autograd_engine:AutogradMaxBug"
    # the printed line, run as printed (through `python -m oracles`, the same entry point)
    again = tmp_path / "again"
    again.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parent.parent / "examples"),
                      os.environ.get("PYTHONPATH")])))
    p = subprocess.run([sys.executable, "-m", "oracles", *line[1:], "-q", "--ad-report-dir",
                        str(again / "rep")], cwd=again, capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 1, p.stdout + p.stderr
    res2 = json.loads((again / "rep" / "results.json").read_text())
    same = [r for r in res2["records"] if (r["claim"], r["engine"], r["check"]) ==
            (rec["claim"], rec["engine"], rec["check"])]
    assert len(same) == 1 and same[0]["category"] == "subject-defect"
    assert same[0]["max_abs_error"] == rec["max_abs_error"]
    assert same[0]["values"] == rec["values"]
    assert rec["shrunk"] and same[0]["shrunk"] == rec["shrunk"]    # and shrinks alike
    # the snippet: the subject rebuilt from its MODULE:ATTR recomputes the failing number,
    # at the shrunk input
    snippet = rec["detail"][rec["detail"].index("import numpy as np"):]
    shrunk = rec["shrunk"]
    (again / "snippet.py").write_text(snippet)
    p = subprocess.run([sys.executable, "snippet.py"], cwd=again, capture_output=True,
                       text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    got_line, ref_line = p.stdout.strip().splitlines()[-2:]
    got, want = _numbers(got_line)[-1], _numbers(ref_line)[-1]
    assert got == pytest.approx(shrunk["values"]["got"][-1], rel=1e-12, abs=1e-300)
    assert want == pytest.approx(shrunk["values"]["reference"][-1], rel=1e-9)
    assert abs(got - want) == pytest.approx(shrunk["max_abs_error"], rel=1e-6)


def test_the_adapters_planted_bug_is_blamed_on_maximum(tmp_path):
    """autograd has no relu: the harness's relu is maximum(z, 0), so relu's claims (op-relu
    among them) are blamed on the maximum the engine evaluates."""
    from collections import Counter
    code, res, out = _conformance(tmp_path, "autograd_engine:AutogradMaxBug", CLAIMS)
    defects = [r for r in res["records"] if r["category"] == "subject-defect"]
    blames = Counter(r["blame"]["op"] for r in defects if r.get("blame"))
    assert blames and set(blames) == {"maximum"}, blames
    assert all(r["blame"] for r in defects if r["check"] in ("jvp", "vjp", "jacobian"))
    bad_ops = {r["claim"] for r in defects if r["section"] == "Primitives"}
    assert bad_ops <= {"op-maximum", "op-relu"} and "op-maximum" in bad_ops, bad_ops
    assert "op-add" not in bad_ops
    import re   # each failure's message starts with its blame line
    assert re.search(r"^\s*maximum(, d/d\(argument \d\))?, (forward|reverse) mode, at ", out,
                     re.M), out[-2000:]
