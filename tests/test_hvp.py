"""Second order (oracles/checks/hvp.py): every oracle's hvp against hand-worked values; an
engine whose first derivatives are right and whose second are wrong (a rule whose derivative
is computed outside the engine) fails through an `hvp` record and no first-order one;
perturbation confusion through the protocol; an engine without hvp is unsupported for it."""
import numpy as np
import pytest

import oracles
from oracles.claims import load_catalogue
from oracles.harness import Harness, draw_inputs
from ourad.rules import RULES

F = lambda xp, x, y: xp.sin(x) * xp.exp(y) + x ** 3 * y  # noqa: E731
X = [np.array(0.7), np.array(-0.3)]
U, T = np.array(1.3), [np.array(0.6), np.array(-1.1)]


def _hand():
    x, y = 0.7, -0.3      # Hessian of u f, times t
    fxx = -np.sin(x) * np.exp(y) + 6 * x * y
    fxy = np.cos(x) * np.exp(y) + 3 * x ** 2
    fyy = np.sin(x) * np.exp(y)
    return 1.3 * np.array([fxx * 0.6 + fxy * -1.1, fxy * 0.6 + fyy * -1.1])


@pytest.mark.parametrize("name", ["ourad-forward", "ourad-reverse", "jax", "torch", "referee"])
def test_each_engines_hvp_against_the_hand_worked_value(name):
    if oracles.available().get(name, True) is not True:
        pytest.skip(f"{name} not installed")
    out, hv = oracles.engine(name).hvp(F, X, U, T)
    assert float(out) == pytest.approx(np.sin(0.7) * np.exp(-0.3) + 0.343 * -0.3, rel=1e-14)
    np.testing.assert_allclose([float(h) for h in hv], _hand(), rtol=1e-13)


def test_perturbation_confusion():
    """d/dx [x * d/dy (x + y)] at x = 2 is 1; an engine that confuses the inner perturbation
    with the outer one answers 2 (Siskind and Pearlmutter's example). The protocol is float64
    in and out, so nesting happens inside an engine: through ourad's own transforms, and
    through the hvp of every engine on f(x, y) = x * (x + y), whose Hessian [[2, 1], [1, 0]]
    a confused engine gets wrong."""
    import ourad

    def inner(x):
        return x * ourad.jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    assert float(ourad.jvp(inner, (2.0,), (1.0,))[1]) == 1.0
    f = lambda xp, x, y: x * (x + y)  # noqa: E731
    for name in ("ourad-forward", "ourad-reverse", "jax", "torch"):
        if oracles.available().get(name, True) is not True:
            continue
        _, hv = oracles.engine(name).hvp(f, [np.array(2.0), np.array(1.0)], np.array(1.0),
                                         [np.array(1.0), np.array(0.0)])
        assert [float(h) for h in hv] == [2.0, 1.0], name


def _claims(ids):
    return [c for c in load_catalogue() if c.id in ids]


def _run(claims, subjects):
    names = [n for n in ("jax", "torch", "referee") if oracles.available()[n] is True]
    h = Harness(subjects, {n: oracles.engine(n) for n in names}, seed=0)
    return [r for c in claims for r in h.run_claim(c, draw_inputs(c, 3))]


def test_a_second_derivative_computed_outside_the_engine_fails_through_hvp_only():
    prim = RULES["tanh"]
    old = prim.vjp
    # the partial derivative 1 - tanh(x)^2 evaluated on the value, not through the engine:
    # first derivatives stay right, the derivative of the VJP loses the term -2 tanh tanh'
    prim.vjp = (lambda xp, g, y, x: g * (1.0 - xp.tanh(xp.stop_gradient(x)) ** 2),)
    try:
        recs = _run(_claims({"chain-scalar-sin-exp-tanh"}), [oracles.engine("ourad-reverse")])
    finally:
        prim.vjp = old
    bad = {(r.check, r.category) for r in recs if r.category == "subject-defect"}
    assert ("hvp", "subject-defect") in bad, bad
    assert {c for c, _ in bad} <= {"hvp", "hvp-symmetry"}, bad


def test_the_unmodified_subject_agrees_and_an_engine_without_hvp_is_unsupported():
    class NoHvp:
        name, xp = "no-hvp", oracles.engine("ourad-reverse").xp
        jvp, vjp = oracles.engine("ourad-reverse").jvp, oracles.engine("ourad-reverse").vjp
    recs = _run(_claims({"chain-scalar-sin-exp-tanh", "fwd-example-f"}),
                [oracles.engine("ourad-reverse"), NoHvp()])
    mine = {(r.engine, r.check): r.category for r in recs if r.check.startswith("hvp")}
    assert mine[("ourad-reverse", "hvp")] == "agree"
    assert mine[("ourad-reverse", "hvp-symmetry")] == "agree"
    assert mine[("no-hvp", "hvp")] == "unsupported"
