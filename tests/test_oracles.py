"""The references: every engine against closed forms, fd's error estimate, the Taylor test."""
import sys

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import oracles
from oracles.fd import FiniteDifferences, taylor_remainder
from oracles.kinks import kink_table
from oracles.library import LIBRARY
from oracles.referee import DPS, xp as mpxp

ENGINES = [n for n, ok in oracles.available().items() if ok is True]
EPS = np.finfo(float).eps


def exact_derivative(elem, x):
    """The closed form evaluated at 50 digits: the truth every engine is held to."""
    with mpmath.workdps(DPS):
        return float(elem.df(mpxp, mpmath.mpf(float(x))))


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("elem", LIBRARY, ids=lambda e: e.name)
@given(u=st.floats(0, 1))
@settings(max_examples=10)
def test_engine_matches_closed_form_to_its_own_accuracy(name, elem, u):
    x = elem.lo + u * (elem.hi - elem.lo)
    eng = oracles.engine(name)
    _, d = eng.jvp(elem.f, [np.array(x)], [np.array(1.0)])
    _, (d_rev,) = eng.vjp(elem.f, [np.array(x)], np.array(1.0))
    exact = exact_derivative(elem, x)
    if name == "fd":
        tol = float(eng.last.error[0])   # the vjp's own estimate, per input
        assert abs(float(d_rev) - exact) <= tol, (d_rev, exact, tol)
        _, d = eng.jvp(elem.f, [np.array(x)], [np.array(1.0)])
        tol = float(eng.last.error)
    elif name == "referee":
        tol = 2 * EPS * abs(exact)    # 30 digits, then rounded once to float64
    else:
        # float64 AD: a few ulps of the terms the rule combines (|f'| and 1, for 1 - y^2)
        tol = 16 * EPS * (abs(exact) + 1.0)
    assert abs(float(d) - exact) <= tol, (name, elem.name, x, d, exact, tol)
    assert abs(float(d_rev) - exact) <= max(tol, 16 * EPS * (abs(exact) + 1.0))


@pytest.mark.parametrize("name", ENGINES)
def test_every_engine_gives_the_notes_example_gradient(name):
    def f(xp, x1, x2):
        v1 = x1 / x2
        return (xp.sin(v1) + v1 - xp.exp(x2)) * (v1 - xp.exp(x2))

    _, (g1, g2) = oracles.engine(name).vjp(f, [np.array(1.5), np.array(0.5)], np.array(1.0))
    assert round(float(g1), 7) == 3.0118433 and round(float(g2), 7) == -13.7239615


def _honesty_cases():
    rng = np.random.default_rng(12345)
    for elem in LIBRARY:
        for x in rng.uniform(elem.lo, elem.hi, size=30):
            yield elem, float(x)


@pytest.mark.parametrize("method", ["central", "forward", "backward", "richardson"])
def test_fd_error_estimate_is_honest(method, record_property):
    fd = FiniteDifferences(method=method)
    inside = total = 0
    ratios = []
    for elem, x in _honesty_cases():
        est = fd.directional(elem.f, [np.array(x)], [np.array(1.0)])
        true = abs(float(est.value) - exact_derivative(elem, x))
        inside += true <= float(est.error)
        total += 1
        if true > 0:
            ratios.append(float(est.error) / true)
    rate = inside / total
    record_property("fd_honesty_rate", rate)
    print(f"fd {method}: true error within the estimate in {inside}/{total} cases "
          f"({rate:.1%}); median estimate/true error {np.median(ratios):.3g}")
    assert rate >= 0.99
    assert np.median(ratios) < 1e4, "an estimate this loose says nothing"


def test_fd_complex_step_is_exact_to_roundoff():
    fd = FiniteDifferences(method="complex")
    for elem, x in list(_honesty_cases())[::7]:
        est = fd.directional(elem.f, [np.array(x)], [np.array(1.0)])
        assert abs(float(est.value) - exact_derivative(elem, x)) <= float(est.error)


@pytest.mark.parametrize("method", ["central", "forward", "richardson"])
def test_fd_reuses_its_shifted_inputs_and_never_mixes_two_evaluations(method):
    """The shifted inputs' arrays are made once per estimate and written again at every
    evaluation: a formula that returns its input itself (or a view of it) still gets each
    evaluation's own value, since every result is copied before the next."""
    x = [np.linspace(-1.0, 1.0, 4000), np.array(0.5)]
    v = [np.cos(np.arange(4000.0)), np.array(-2.0)]
    seen, held = [], []

    def f(xp, a, b):
        seen.append(a.__array_interface__["data"][0])
        held.append(a)   # (so that a fresh array could not come back at the same address)
        return a[::-1] * 1.0 + 0.0 * b if len(seen) % 2 else a[::-1]   # a view, or not

    est = FiniteDifferences(method=method).directional(f, x, v)
    assert np.all(np.abs(est.value - v[0][::-1]) <= est.error)   # the identity's derivative
    assert seen[0] == x[0].__array_interface__["data"][0]   # the first evaluation: at x
    assert len(set(seen[1:])) == 1, "one array for the shifted input, written again"


def test_fd_scales_its_step_by_tangents_and_inputs_of_any_numeric_type():
    from oracles.fd import _absmax
    assert _absmax(np.array([2, 3], np.uint8)) == 3.0
    assert _absmax(np.array([-2 ** 63, 5], np.int64)) == 2.0 ** 63
    assert _absmax(np.array([True, False])) == 1.0
    assert np.isnan(_absmax(np.array([1.0, np.nan, -3.0])))
    est = FiniteDifferences().directional(lambda xp, x: 2.0 * x, [np.array([1.0, 2.0])],
                                          [np.array([True, False])])
    assert np.allclose(est.value, [2.0, 0.0])


def test_fd_complex_step_refuses_a_formula_that_is_not_complex_safe():
    with pytest.raises(oracles.Unsupported):
        FiniteDifferences(method="complex").directional(
            lambda xp, x: xp.abs(x), [np.array(-1.0)], [np.array(1.0)])   # |z| is not analytic


def _counted(f, seen):
    """f, counting its evaluations on our own: a call on a batch of k points counts k."""
    def g(xp, x):
        seen["calls"] += 1
        seen["evaluations"] += x.shape[0] if np.ndim(x) == 2 else 1
        return f(xp, x)
    return g


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("maps_leading_axis", [True, False])
def test_fd_gradient_counts_every_evaluation_of_f(batched, maps_leading_axis):
    f = lambda xp, x: xp.sum(xp.sin(x) * x, axis=-1 if maps_leading_axis else None)  # noqa: E731
    for n in (1, 5, 20):
        x = np.linspace(0.1, 1, n)
        seen = {"calls": 0, "evaluations": 0}
        fd = FiniteDifferences()
        g = fd.gradient(_counted(f, seen), x, h=1e-7, batched=batched)
        assert (fd.evaluations, fd.calls) == (seen["evaluations"], seen["calls"]), n
        if not batched:   # the notes' formula, literally: f(x) and f(x + h e_i), one call each
            assert fd.evaluations == fd.calls == n + 1
        np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), atol=1e-6)


def test_fd_error_against_step_has_the_two_slopes_the_notes_warn_of():
    # forward differences of sin at 1: error ~ h |f''| / 2 for large h, ~ eps |f| / h for small
    fd = FiniteDifferences()
    f = lambda xp, x: xp.sin(x)  # noqa: E731
    big = np.geomspace(1e-1, 1e-4, 7)
    small = np.geomspace(1e-10, 1e-14, 9)
    e_big = fd.error_curve(f, [np.array(1.0)], [np.array(1.0)], np.cos(1.0), big)
    e_small = fd.error_curve(f, [np.array(1.0)], [np.array(1.0)], np.cos(1.0), small)
    slope_big = np.polyfit(np.log(big), np.log(e_big), 1)[0]
    slope_small = np.polyfit(np.log(small), np.log(np.maximum(e_small, 1e-300)), 1)[0]
    print(f"log-log slopes of the forward-difference error: {slope_big:.2f} (large h), "
          f"{slope_small:.2f} (small h)")
    assert 0.9 < slope_big < 1.1
    assert -1.5 < slope_small < -0.5


@pytest.mark.parametrize("elem", LIBRARY, ids=lambda e: e.name)
def test_taylor_remainder_separates_right_from_wrong_derivatives(elem):
    x = 0.5 * (elem.lo + elem.hi) + 0.1
    d = float(elem.df(np, x))
    right, _ = taylor_remainder(elem.f, [np.array(x)], [np.array(1.0)], d)
    wrong, _ = taylor_remainder(elem.f, [np.array(x)], [np.array(1.0)], d * (1 + 1e-2) + 1e-2)
    assert right > 1.8 and 0.8 < wrong < 1.2, (right, wrong)


def test_kink_values_lie_in_the_subdifferential_and_are_recorded():
    rows = kink_table([oracles.engine(n) for n in ENGINES])
    valued = [r for r in rows if r["inside"] is not None]
    assert all(r["inside"] for r in valued), [r for r in valued if not r["inside"]]
    assert {r["engine"] for r in valued} >= {"ourad-forward", "ourad-reverse", "fd"}
    relu = {r["engine"]: r["vjp"] for r in rows if r["kink"].startswith("relu")}
    assert relu["ourad-reverse"] == 1.0  # the notes' convention


def test_a_missing_package_is_reported_and_not_fatal(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)   # import torch now fails
    monkeypatch.delitem(sys.modules, "oracles.torch_engine", raising=False)
    monkeypatch.setattr(oracles, "_cache", {})
    avail = oracles.available()
    assert isinstance(avail["torch"], str) and "torch" in avail["torch"] \
        and "not installed" in avail["torch"]
    assert avail["fd"] is True
    with pytest.raises(oracles.Unsupported, match="not installed"):
        oracles.engine("torch")


def test_quick_check_passes_a_right_vjp_and_fails_a_planted_1e_6_error():
    from oracles.harness import quick_check
    from oracles.ourad_engines import OuradReverse

    class Off(OuradReverse):
        name = "off"

        def vjp(self, f, primals, cotangent):
            out, bars = super().vjp(f, primals, cotangent)
            return out, tuple(b * (1 + 1e-6) for b in bars)

    f = lambda xp, W, x: xp.sum(xp.tanh(xp.matmul(W, x)) ** 2)  # noqa: E731
    rng = np.random.default_rng(3)
    args = [rng.standard_normal((30, 20)), rng.standard_normal(20)]
    for seed in range(5):
        assert quick_check(OuradReverse(), f, args, seed=seed).category == "agree"
        assert quick_check(Off(), f, args, seed=seed).category == "subject-defect"


# the rule table's primitives that no formula names: the transpose of indexing, which only
# ourad's reverse mode binds
INTERNAL_PRIMITIVES = {"scatter_add"}


@pytest.mark.parametrize("name", ["jax", "torch", "fd", "referee"])
def test_every_op_of_ourads_rule_table_exists_in_every_oracles_namespace(name):
    """A primitive added to ourad and forgotten in an oracle's namespace would make that
    oracle drop out of every claim that uses it; this names it at once."""
    from oracles.namespace import StandardNamespace
    from ourad.rules import RULES
    if oracles.available().get(name) is not True:
        pytest.skip(f"{name}: {oracles.available().get(name)}")
    ns = StandardNamespace(oracles.engine(name).xp)
    missing = []
    for op in sorted(set(RULES) - INTERNAL_PRIMITIVES):
        try:
            getattr(ns, op)
        except Exception:  # noqa: BLE001 -- MissingOp, AttributeError
            missing.append(op)
    assert not missing, f"{name}'s namespace lacks {missing}"
    assert INTERNAL_PRIMITIVES <= set(RULES)


def test_a_points_jvp_and_vjp_references_share_one_fd_estimate(monkeypatch):
    """fd confirms the JVP along the point's tangent v and the VJP as <u, J v>: one estimate,
    and a wrong VJP of the AD oracles is still refused by it."""
    from oracles.harness import Harness
    from oracles.reference import establish
    ads = [n for n in ("jax", "torch") if oracles.available()[n] is True]
    if not ads:
        pytest.skip("no AD oracle installed")
    calls = []
    real = FiniteDifferences.directional

    def counted(self, f, primals, tangents, *a, **k):
        calls.append(tangents)
        return real(self, f, primals, tangents, *a, **k)

    monkeypatch.setattr(FiniteDifferences, "directional", counted)
    h = Harness([], {n: oracles.engine(n) for n in ads + ["fd"]}, seed=0)

    def f(xp, x, y):
        return xp.tanh(xp.matmul(x, y))

    x = [np.array([[0.3, -0.4, 1.1]]), np.array([[0.2, 0.5], [-1.0, 0.7], [0.1, 0.9]])]
    from oracles.claims import Claim
    claim = Claim(id="shared-fd", section="t", printed="f", f=f, domain=st.just(()),
                  jacobian=False)
    h.run_claim(claim, [x])
    assert len(calls) == 1

    class WrongVjp:
        """An AD oracle whose VJP is twice the truth; fd along v must refuse it."""
        name = "wrong"
        def __init__(self, eng):
            self.eng = eng
        def vjp(self, f, x, u):
            out, bars = self.eng.vjp(f, x, u)
            return out, tuple(2 * b for b in bars)

    v = [np.ones_like(a) for a in x]
    out = np.tanh(x[0] @ x[1])
    memo = {}
    ref = establish("vjp", f, x, np.ones_like(out), out.shape,
                    {"wrong": WrongVjp(oracles.engine(ads[0])), "fd": oracles.engine("fd")},
                    {"wrong": "ad", "fd": "numeric"}, along=v, memo=memo)
    assert not ref.ok and "not confirmed by fd" in ref.why


def test_the_referee_resolves_a_change_lost_in_its_digits_near_zero():
    """log(sigmoid(x^3)) at x = -3.9e-56 changes by about 1e-187 over the referee's step
    around -0.69: at its first digits the change was lost and it answered 0 (its hvp too).
    It raises its digits until the change shows, and an output entry that truly does not
    change stays 0."""
    referee = oracles.engine("referee")
    x = -3.8908766591279324e-56

    def f(xp, a):
        return xp.stack([xp.log(xp.sigmoid(a * a * a)), a * 0.0 + 5.0])

    _, d = referee.jvp(f, [np.array(x)], [np.array(1.0)])
    with mpmath.workdps(400):
        t = mpmath.mpf(x) ** 3
        exact = float(3 * mpmath.mpf(x) ** 2 * (1 - 1 / (1 + mpmath.exp(-t))))
    assert abs(d[0] - exact) <= 4 * EPS * abs(exact), (d, exact)
    assert d[1] == 0.0
    _, (bar,) = referee.vjp(f, [np.array(x)], np.array([1.0, 0.0]))
    assert abs(float(bar) - exact) <= 4 * EPS * abs(exact)
    # the second derivative there, 6x(1 - s) - 9x^4 s(1 - s) with s = sigmoid(x^3), by
    # second differences whose change is lost at the first digits in the same way
    _, (hv,) = referee.hvp(f, [np.array(x)], np.array([1.0, 0.0]), [np.array(1.0)])
    with mpmath.workdps(400):
        xm = mpmath.mpf(x)
        s = 1 / (1 + mpmath.exp(-xm ** 3))
        second = float(6 * xm * (1 - s) - 9 * xm ** 4 * s * (1 - s))
    assert abs(float(hv) - second) <= 1e-9 * abs(second), (hv, second)
