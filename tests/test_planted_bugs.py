"""The harness measures its own power: bugs planted in a copy of ourad's rules must each be
caught by the conformance run, and the unmodified subject must pass on several seeds."""
import contextlib

import numpy as np
import pytest

import oracles
from oracles.claims import load_catalogue
from oracles.harness import Harness, draw_inputs
from ourad import core
from ourad.primitive import primal_of
from ourad.rules import RULES, _restore


def _swap(name, jvp=None, vjp=None):
    prim = RULES[name]
    old = (prim.jvp, prim.vjp)
    prim.jvp = jvp if jvp is not None else prim.jvp
    prim.vjp = vjp if vjp is not None else prim.vjp
    return lambda: (setattr(prim, "jvp", old[0]), setattr(prim, "vjp", old[1]))


def _float32(fn):
    return lambda xp, *a: np.asarray(np.asarray(fn(xp, *a), np.float32), np.float64)


def _transposed_matmul_vjp(right):
    """a_bar with b where b^T belongs (b^T where b belongs when a is a vector)."""
    def wrong(xp, g, y, a, b):
        if np.ndim(b) == 2 and np.ndim(a) == 1:
            return xp.matmul(xp.matrix_transpose(b), g)    # should be b @ g
        if np.ndim(b) >= 2 and np.ndim(a) >= 2:
            return xp.matmul(g, b)                         # should be g @ b^T
        return right(xp, g, y, a, b)
    return wrong


def _ge(a, b):
    """1 where a >= b (at a tie too), as a plain array."""
    a, b = primal_of(a), primal_of(b)
    return np.asarray(np.greater_equal(a, b), np.result_type(a, b))


def _hits(y, x, axis, keepdims):
    """1 at every entry of x equal to its max (every tied entry), as a plain array."""
    y, x = np.asarray(primal_of(y)), primal_of(x)
    return np.asarray(x == _restore(np, y, x, axis, keepdims), np.result_type(x))


def _no_unbroadcast():
    old = core.unbroadcast
    core.unbroadcast = lambda xp, g, shape: g
    return lambda: setattr(core, "unbroadcast", old)


R = RULES
PLANTED = {
    "sign flip in sin's rules (both modes)": lambda: _swap(
        "sin", jvp=(lambda xp, t, y, x: -(t * xp.cos(x)),),
        vjp=(lambda xp, g, y, x: -(g * xp.cos(x)),)),
    "dropped chain-rule term: tanh's rules forget the incoming derivative": lambda: _swap(
        "tanh", jvp=(lambda xp, t, y, x: (1.0 - y * y) + 0.0 * t,),
        vjp=(lambda xp, g, y, x: (1.0 - y * y) + 0.0 * g,)),
    "transposed matrix in matmul's VJP": lambda: _swap(
        "matmul", vjp=(_transposed_matmul_vjp(R["matmul"].vjp[0]), R["matmul"].vjp[1])),
    "broadcasting not undone": _no_unbroadcast,
    "rule right in forward mode, wrong in reverse (cos)": lambda: _swap(
        "cos", vjp=(lambda xp, g, y, x: g * xp.sin(x),)),
    "cotangent's value ignored (multiply)": lambda: _swap(
        "multiply", vjp=(lambda xp, g, y, a, b: xp.ones_like(g) * b,
                         lambda xp, g, y, a, b: a * xp.ones_like(g))),
    "relu's derivative wrong on the negative side": lambda: _swap(
        "relu", jvp=(lambda xp, t, y, x: t * xp.where(x >= 0, 1.0, 0.01),),
        vjp=(lambda xp, g, y, x: g * xp.where(x >= 0, 1.0, 0.01),)),
    "relative error of 1e-6 in exp's derivative": lambda: _swap(
        "exp", jvp=(lambda xp, t, y, x: t * y * (1 + 1e-6),),
        vjp=(lambda xp, g, y, x: g * y * (1 + 1e-6),)),
    "maximum gives both inputs the whole derivative at a tie": lambda: _swap(
        "maximum", jvp=(lambda xp, t, y, a, b: t * _ge(a, b), lambda xp, t, y, a, b: t * _ge(b, a)),
        vjp=(lambda xp, g, y, a, b: g * _ge(a, b), lambda xp, g, y, a, b: g * _ge(b, a))),
    "max gives every tied entry the whole derivative": lambda: _swap(
        "max", jvp=(lambda xp, t, y, x, axis=None, keepdims=False:
                    xp.sum(t * _hits(y, x, axis, keepdims), axis=axis, keepdims=keepdims),),
        vjp=(lambda xp, g, y, x, axis=None, keepdims=False:
             _restore(xp, g, x, axis, keepdims) * _hits(y, x, axis, keepdims),)),
    "derivative computed in float32 (log)": lambda: _swap(
        "log", jvp=(_float32(lambda xp, t, y, x: t / x),),
        vjp=(_float32(lambda xp, g, y, x: g / x),)),
}


@contextlib.contextmanager
def planted(name):
    restore = PLANTED[name]()
    try:
        yield
    finally:
        restore()


@pytest.fixture(scope="module")
def harness_parts():
    names = [n for n in ("jax", "torch", "fd", "referee") if oracles.available()[n] is True]
    return {n: oracles.engine(n) for n in names}, load_catalogue()


def _first_defect(oracle_engines, claims, seed=0, examples=3):
    h = Harness([oracles.engine("ourad-forward"), oracles.engine("ourad-reverse")],
                oracle_engines, seed=seed)
    for claim in claims:
        if claim.f is None:
            continue
        for rec in h.run_claim(claim, draw_inputs(claim, examples)):
            if rec.category == "subject-defect":
                return rec
    return None


@pytest.mark.parametrize("seed", [1, 2])
def test_unmodified_subject_passes_on_other_seeds(seed, harness_parts):
    oracle_engines, claims = harness_parts
    rec = _first_defect(oracle_engines, claims, seed=seed, examples=3)
    assert rec is None, f"a right subject was flagged: {rec}"


def test_every_planted_bug_is_caught_and_the_rate_is_printed(harness_parts, capsys):
    oracle_engines, claims = harness_parts
    caught = {}
    for bug in PLANTED:
        with planted(bug):
            caught[bug] = _first_defect(oracle_engines, claims)
    n = sum(r is not None for r in caught.values())
    with capsys.disabled():
        print()
        for bug, rec in caught.items():
            print(f"  {bug}: " + (f"caught by {rec.claim} / {rec.engine} / {rec.check}"
                                  if rec else "NOT caught"))
        print(f"planted bugs caught by the conformance run: {n}/{len(PLANTED)} "
              f"({n / len(PLANTED):.0%})")
    assert n == len(PLANTED), [b for b, r in caught.items() if r is None]
