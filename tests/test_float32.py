"""float32 without false failures, and without letting a float32 defect through: the error
model (oracles/checks/float32.py) against right engines where float32 loses digits honestly,
and against rules wrong beyond float32's rounding (a derivative rounded through float16,
log(1 + x) in place of log1p(x) near 0)."""
import numpy as np
import pytest

import oracles
import ourad
from oracles.claims import Claim, load_catalogue, scalars
from oracles.harness import Harness, draw_inputs
from oracles.ourad_engines import OuradReverse
from oracles.reproduce import RunOptions
from ourad.rules import RULES

REF = OuradReverse()
pytestmark = pytest.mark.skipif(
    not all(oracles.available()[n] is True for n in ("jax", "torch")),
    reason="the float32 model samples JAX and PyTorch in float32")


def run(subjects, claim, oracle_names=("referee", "jax", "torch", "fd"), examples=6,
        dtypes=("float64", "float32")):
    names = [n for n in oracle_names if oracles.available()[n] is True]
    h = Harness(subjects, {n: oracles.engine(n) for n in names},
                options=RunOptions(profile="thorough", dtypes=dtypes))
    return h.run_claim(claim, draw_inputs(claim, examples, "thorough"))


def f32(records, engine=None):
    return {(r.engine, r.check): r for r in records
            if r.dtype == "float32" and (engine is None or r.engine == engine)}


TANH_FAR = Claim(id="tanh-far", section="t", printed="tanh(x)", f=lambda xp, x: xp.tanh(x),
                 domain=scalars(4.0, 8.0))
LOG1P_SQ = Claim(id="log1p-sq", section="t", printed="log1p(x)^2",
                 f=lambda xp, x: xp.log1p(x) * xp.log1p(x), domain=scalars(1e-6, 1e-4))


def test_right_engine_with_a_cancellation_agrees_in_float32():
    """1 - tanh(x)^2 from a float32 tanh(x) loses up to four digits at x in [4, 8]: every
    float32 implementation does, and the model must measure it, not call it a defect."""
    recs = f32(run([oracles.engine("ourad-reverse")], TANH_FAR))
    assert {k[1] for k in recs} == {"jvp", "vjp", "value"}
    for rec in recs.values():
        assert rec.category == "agree", rec
        assert rec.returned_dtype == "float32"
    for check in ("jvp", "vjp"):     # the cancellation is real, and was met
        assert recs[("ourad-reverse", check)].max_rel_error > 1e-5


def _float16(fn):
    return lambda xp, t, y, x: np.asarray(np.asarray(fn(xp, t, y, x), np.float16),
                                          np.result_type(y))


def test_a_derivative_rounded_through_float16_is_caught_in_float32():
    prim = RULES["tanh"]
    old = (prim.jvp, prim.vjp)
    rule = _float16(lambda xp, t, y, x: t * (1.0 - y * y))
    prim.jvp = prim.vjp = (rule,)
    try:
        claim = Claim(id="tanh-mid", section="t", printed="tanh(x)",
                      f=lambda xp, x: xp.tanh(3.0 * x), domain=scalars(-0.5, 0.5))
        recs = f32(run([oracles.engine("ourad-reverse")], claim))
    finally:
        prim.jvp, prim.vjp = old
    for check in ("jvp", "vjp"):
        assert recs[("ourad-reverse", check)].category == "subject-defect", recs
    assert recs[("ourad-reverse", "value")].category == "agree"


class _Log1pAsLog:
    """ourad's namespace with log1p(x) computed as log(1 + x)."""

    def __getattr__(self, name):
        if name == "log1p":
            return lambda x: ourad.xp.log(ourad.xp.add(1.0, x))
        return getattr(ourad.xp, name)


class Log1pAsLog:
    name = "log1p-as-log"
    xp = _Log1pAsLog()

    def jvp(self, f, primals, tangents):
        return ourad.jvp(lambda *a: f(self.xp, *a), primals, tangents)

    def vjp(self, f, primals, cotangent):
        out, back = ourad.vjp(lambda *a: f(self.xp, *a), *primals)
        return out, tuple(back(cotangent))


def test_log_of_one_plus_x_for_log1p_is_caught_in_float32():
    recs = f32(run([Log1pAsLog(), oracles.engine("ourad-reverse")], LOG1P_SQ))
    for check in ("jvp", "vjp", "value"):
        assert recs[("log1p-as-log", check)].category == "subject-defect", recs
        assert recs[("ourad-reverse", check)].category == "agree", recs


class AnswersInFloat64:
    """Computes in float64 whatever it is given: more precise than asked, not wrong."""
    name = "answers-in-float64"
    xp = ourad.xp

    def jvp(self, f, primals, tangents):
        return REF.jvp(f, [np.float64(p) if np.ndim(p) == 0 else np.asarray(p, np.float64)
                           for p in primals], [np.asarray(t, np.float64) for t in tangents])

    def vjp(self, f, primals, cotangent):
        return REF.vjp(f, [np.asarray(p, np.float64) for p in primals],
                       np.asarray(cotangent, np.float64))


def test_an_answer_in_float64_is_recorded_and_judged_by_the_float32_model():
    recs = f32(run([AnswersInFloat64()], TANH_FAR))
    for check in ("jvp", "vjp"):
        rec = recs[("answers-in-float64", check)]
        assert rec.category == "agree", rec
        assert rec.returned_dtype == "float64"
        assert "answered in float64" in rec.detail


class SlightlyWrongInFloat64(AnswersInFloat64):
    """Answers in float64, one part in 1e4 off: beyond float32's model, though float64's
    digits look precise."""
    name = "slightly-wrong-in-float64"

    def jvp(self, f, primals, tangents):
        out, t = super().jvp(f, primals, tangents)
        return out, np.asarray(t) * (1 + 1e-4)

    def vjp(self, f, primals, cotangent):
        out, bars = super().vjp(f, primals, cotangent)
        return out, tuple(np.asarray(b) * (1 + 1e-4) for b in bars)


def test_an_answer_in_float64_beyond_the_float32_model_is_a_defect():
    claim = Claim(id="sin-mid", section="t", printed="sin(x)", f=lambda xp, x: xp.sin(x),
                  domain=scalars(0.2, 1.2))
    recs = f32(run([SlightlyWrongInFloat64()], claim))
    for check in ("jvp", "vjp"):
        rec = recs[("slightly-wrong-in-float64", check)]
        assert rec.category == "subject-defect" and rec.returned_dtype == "float64", rec


class Float64Only(AnswersInFloat64):
    name = "float64-only"
    dtypes = "float64"           # a name alone is read as a one-name sequence


def _raises_at_zero(xp, x):
    """2x, refusing x = 0 when evaluated on plain NumPy values (engines' tracers pass)."""
    if isinstance(x, (np.ndarray, np.floating, float)) and np.all(x == 0):
        raise ZeroDivisionError("x is 0")
    return x * 2.0


def test_an_input_that_rounds_to_a_point_f_refuses_is_inconclusive_not_a_harness_error():
    claim = Claim(id="tiny", section="t", printed="2x", f=_raises_at_zero,
                  domain=scalars(1e-60, 1e-50))
    recs = run([oracles.engine("ourad-reverse")], claim, examples=2)
    assert not [r for r in recs if r.category == "harness-error"], recs
    ref = f32(recs)[("reference", "reference")]
    assert ref.category == "inconclusive" and "cannot be evaluated" in ref.detail
    assert all(r.category == "agree" for r in recs if r.dtype == "float64"
               and r.subject and r.check in ("jvp", "vjp", "value")), recs


def test_an_engine_that_declares_float64_only_is_unsupported_in_float32():
    recs = f32(run([Float64Only()], TANH_FAR, examples=2))
    assert {r.category for r in recs.values()} == {"unsupported"}
    assert "declares dtypes" in recs[("float64-only", "jvp")].detail


def test_without_a_float32_oracle_a_cancellation_is_never_a_defect():
    """With only the referee and fd, nothing measures float32's rounding: what lies beyond
    the rounding term is inconclusive, not a subject defect."""
    recs = f32(run([oracles.engine("ourad-reverse")], TANH_FAR, ("referee", "fd")))
    assert recs and all(r.category in ("agree", "inconclusive") for r in recs.values()), recs
    assert any(r.category == "inconclusive" for r in recs.values())


def test_float64_only_run_has_no_float32_records():
    recs = run([oracles.engine("ourad-reverse")], TANH_FAR, examples=2, dtypes=("float64",))
    assert recs and not f32(recs)
    assert all(r.dtype == "float64" for r in recs)


@pytest.mark.parametrize("engine", ["ourad-forward", "ourad-reverse"])
def test_every_float32_record_says_what_it_was_judged_by(engine):
    recs = f32(run([oracles.engine(engine)], LOG1P_SQ, examples=3)).values()
    assert recs
    for rec in recs:
        assert rec.tolerance and rec.tolerance > 0
        assert "error model" in rec.detail and "sampled from" in rec.detail


def _tf32(a):
    """float32 rounded to TF32's 10-bit mantissa (as GPU BLAS may round a matmul's inputs)."""
    a = np.ascontiguousarray(a, np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    return ((u + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32)


class Tf32Derivatives(OuradReverse):
    """Right, but its float32 derivatives are rounded to TF32's 10-bit mantissa (as large
    float32 products on a GPU allowed to use TF32 come out)."""
    name = "tf32-derivatives"

    def jvp(self, f, primals, tangents):
        out, t = super().jvp(f, primals, tangents)
        return out, (_tf32(t) if np.asarray(t).dtype == np.float32 else t)

    def vjp(self, f, primals, cotangent):
        out, bars = super().vjp(f, primals, cotangent)
        return out, tuple(_tf32(b) if np.asarray(b).dtype == np.float32 else b for b in bars)


def test_derivatives_rounded_to_tf32_are_caught_at_a_million_inputs():
    """The rounding term once grew with sqrt(n) (a thousand at the network's million
    parameters) and allowed 0.4% of the answer: an engine whose large float32 products came
    out of TF32 passed, 2,000 times further from the reference than honest float32
    engines."""
    claim = next(c for c in load_catalogue() if c.id == "net-gradients")
    recs = f32(run([Tf32Derivatives(), oracles.engine("ourad-reverse")], claim,
                   oracle_names=("jax", "torch", "fd"), examples=1))
    assert recs[("tf32-derivatives", "vjp")].category == "subject-defect", recs
    assert recs[("tf32-derivatives", "jvp")].category == "subject-defect", recs
    assert recs[("ourad-reverse", "vjp")].category == "agree"
    assert recs[("ourad-reverse", "jvp")].category == "agree"
