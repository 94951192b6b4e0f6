"""Every primitive of ourad's rule table: JVP against central differences, VJP against JVP, second
order, the namespace against the table, and every reduction of ourad.xp over every axis."""
import ast
import functools
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import ourad
import ourad.xp as xp_module
from ourad.primitive import bind
from ourad.rules import RULES, EachInput

NAMES = sorted(RULES)
seeds = st.integers(0, 2**32 - 1)


def _call(name, seed, dtype=np.float64):
    """A drawn call of the primitive, as a function of its differentiable inputs alone."""
    prim = RULES[name]
    args, params = prim.sample(np.random.default_rng(seed))
    args = [np.asarray(a, dtype) if np.asarray(a).dtype.kind == "f" else a for a in args]
    diff = [i for i, a in enumerate(args)
            if np.asarray(a).dtype.kind == "f" and prim.vjp[i] is not None]

    def f(*xs):
        full = list(args)
        for i, x in zip(diff, xs):
            full[i] = x
        return bind(prim, *full, **params)

    return prim, f, [args[i] for i in diff], args, params


def _central(f, xs, vs, h):
    plus = f(*[x + h * v for x, v in zip(xs, vs)])
    minus = f(*[x - h * v for x, v in zip(xs, vs)])
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)


@pytest.mark.parametrize("name", NAMES)
def test_every_input_has_both_rules_or_neither_and_the_rule_has_a_sampler_and_flops(name):
    prim = RULES[name]
    assert callable(prim.sample) and callable(prim.flops), name
    for seed in range(20):   # several drawn calls: a variadic primitive gets several arities
        args, params = prim.sample(np.random.default_rng(seed))
        if not isinstance(prim.jvp, EachInput):
            assert len(prim.jvp) == len(prim.vjp) == len(args), name
        for i, a in enumerate(args):
            jvp_i, vjp_i = prim.jvp[i], prim.vjp[i]
            assert (jvp_i is None) == (vjp_i is None), (name, i)
            if np.asarray(a).dtype.kind == "f":   # every floating input is differentiable
                assert callable(jvp_i) and callable(vjp_i), (name, i)


def test_rules_of_any_number_of_inputs_refuse_to_be_iterated():
    variadic = [n for n in NAMES if isinstance(RULES[n].jvp, EachInput)]
    assert variadic == ["concatenate"]
    for name in variadic:
        for rules in (RULES[name].jvp, RULES[name].vjp):
            with pytest.raises(TypeError, match="index them"):
                list(rules)
            with pytest.raises(TypeError):
                len(rules)


@pytest.mark.parametrize("name", [n for n in NAMES if RULES[n].partials is not None])
def test_elementwise_rules_are_one_map_in_both_modes(name):
    prim = RULES[name]
    assert prim.jvp is prim.vjp and len(prim.jvp) == len(prim.partials), name


@pytest.mark.parametrize("name", NAMES)
@given(seed=seeds)
def test_jvp_matches_central_differences(name, seed):
    prim, f, xs, args, params = _call(name, seed)
    rng = np.random.default_rng(seed + 1)
    vs = [rng.standard_normal(np.shape(x)) for x in xs]
    y, y_dot = ourad.jvp(f, xs, vs)
    h = 1e-5
    fd = _central(f, xs, vs, h)
    # central differences: truncation ~ h^2 |f'''|, roundoff ~ eps |f| / h
    tol = 1e-6 * (1 + np.abs(fd)) + 1e-9 * (1 + np.abs(y)) / h
    ok = np.abs(np.asarray(y_dot) - fd) <= tol
    if prim.kink is not None:  # the difference quotient straddles a kink: no verdict there
        ok |= np.broadcast_to(prim.kink(*args, **params) < 1e-3, np.shape(ok))
    assert ok.all(), f"{name}: jvp {y_dot} vs central differences {fd} (tolerance {tol})"


@pytest.mark.parametrize("name", NAMES)
@given(seed=seeds)
def test_vjp_is_transpose_of_jvp(name, seed):
    prim, f, xs, args, params = _call(name, seed)
    rng = np.random.default_rng(seed + 2)
    vs = [rng.standard_normal(np.shape(x)) for x in xs]
    y, y_dot = ourad.jvp(f, xs, vs)
    u = rng.standard_normal(np.shape(y))
    y2, back = ourad.vjp(f, *xs)
    x_bars = back(u)
    lhs_terms = np.asarray(u * y_dot)
    rhs_terms = [np.asarray(xb * v) for xb, v in zip(x_bars, vs)]
    lhs, rhs = lhs_terms.sum(), sum(t.sum() for t in rhs_terms)
    scale = np.abs(lhs_terms).sum() + sum(np.abs(t).sum() for t in rhs_terms)
    tol = 16 * np.finfo(float).eps * scale + 1e-300
    assert np.array_equal(y, y2)
    assert abs(lhs - rhs) <= tol, f"{name}: <u, J v> = {lhs!r}, <J^T u, v> = {rhs!r}, tol {tol:.3g}"


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name):
    prim, f, xs, args, params = _call(name, 7, np.float32)
    y, y_dot = ourad.jvp(f, xs, [np.ones_like(x) for x in xs])
    _, back = ourad.vjp(f, *xs)
    x_bars = back(np.ones_like(y))
    assert np.result_type(y) == np.float32, name
    assert np.result_type(y_dot) == np.float32, name
    assert all(np.result_type(xb) == np.float32 for xb in x_bars), name


@pytest.mark.parametrize("name", [n for n in NAMES if RULES[n].kink is None])
def test_python_floats_give_the_same_derivatives_as_arrays(name):
    prim = RULES[name]
    for seed in range(200):  # the first drawn call that takes scalars alone
        args, params = prim.sample(np.random.default_rng(seed))
        if not params and all(np.shape(a) == () and np.asarray(a).dtype.kind == "f"
                              for a in args):
            break
    else:
        pytest.skip(f"{name} takes no scalar call")
    f = lambda *xs: bind(prim, *xs)  # noqa: E731
    g_float = ourad.grad(f, tuple(range(len(args))))(*[float(a) for a in args])
    g_array = ourad.grad(f, tuple(range(len(args))))(*[np.asarray(a, float) for a in args])
    assert all(type(g) is float for g in g_float)
    # math and NumPy may round a transcendental function 1 ulp apart, and a rule such as
    # tanh's 1 - y^2 turns that into an absolute (not relative) difference of a few ulps of 1
    np.testing.assert_allclose(np.asarray(g_float), np.asarray(g_array, float),
                               rtol=8 * np.finfo(float).eps, atol=8 * np.finfo(float).eps)


# --- the namespace and the table agree -----------------------------------------------------------

def test_namespace_writes_out_every_primitive_for_static_analysis():
    # names injected at import time are invisible to pyflakes and IDEs: each must be written
    tree = ast.parse(Path(xp_module.__file__).read_text())
    written = {t.id for node in tree.body if isinstance(node, ast.Assign)
               for t in node.targets if isinstance(t, ast.Name)}
    written |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert set(RULES) <= written, sorted(set(RULES) - written)


@pytest.mark.parametrize("name", NAMES)
def test_namespace_op_binds_the_primitive_of_its_name(name):
    prim = RULES[name]
    args, params = prim.sample(np.random.default_rng(0))
    fn = getattr(ourad.xp, name)
    with ourad.count_flops() as c:
        fn(list(args), **params) if isinstance(prim.jvp, EachInput) else fn(*args, **params)
    assert c.calls == {name: 1}


def test_every_op_line_of_the_namespace_names_its_primitive():
    aliases = {"power": "pow"}
    ops = {n: fn for n, fn in vars(xp_module).items()
           if isinstance(fn, functools.partial) and fn.func is bind}
    assert ops, "no op lines found"
    for n, fn in ops.items():
        prim = fn.args[0]
        assert RULES[prim.name] is prim and aliases.get(n, n) == prim.name, n


# --- the reductions of ourad.xp, primitives and composites alike, over every axis --------------

def _np_logsumexp(x, axis=None, keepdims=False):
    c = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - c), axis=axis, keepdims=True)) + c
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_softmax(x, axis=-1):
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


# name -> NumPy's own (or the textbook formula in NumPy), and whether it takes keepdims
REDUCTIONS = {"sum": (np.sum, True), "mean": (np.mean, True), "max": (np.max, True),
              "min": (np.min, True), "logsumexp": (_np_logsumexp, True),
              "softmax": (_np_softmax, False)}
AXES = [None, 0, 1, 2, -1, -2, (0, 2), (2, 0), (-1, 0), (0, 1, 2), (), [1]]
KEEPDIMS = [(name, k) for name, (_, takes) in REDUCTIONS.items()
            for k in ([False, True] if takes else [None])]   # None: not passed


@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name,keepdims", KEEPDIMS)
def test_reduction_matches_numpy_and_central_differences_on_every_axis(name, keepdims, axis):
    np_fn, _ = REDUCTIONS[name]
    kw = {"axis": axis} if keepdims is None else {"axis": axis, "keepdims": keepdims}
    np_kw = dict(kw, axis=tuple(axis) if isinstance(axis, list) else axis)
    rng = np.random.default_rng(zlib.crc32(f"{name} {axis} {keepdims}".encode()))
    x = rng.standard_normal((2, 3, 4))
    f = lambda v: getattr(ourad.xp, name)(v, **kw)  # noqa: E731
    want = np_fn(x, **np_kw)
    got = f(x)
    assert np.shape(got) == np.shape(want), (name, axis, keepdims)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    v, u = rng.standard_normal(x.shape), rng.standard_normal(np.shape(want))
    y, y_dot = ourad.jvp(f, (x,), (v,))
    h = 1e-6
    fd = (np_fn(x + h * v, **np_kw) - np_fn(x - h * v, **np_kw)) / (2 * h)
    np.testing.assert_allclose(y_dot, fd, rtol=1e-6, atol=1e-8)
    _, back = ourad.vjp(f, x)
    (x_bar,) = back(u)
    assert np.shape(x_bar) == x.shape
    np.testing.assert_allclose(np.sum(x_bar * v), np.sum(u * fd), rtol=1e-6, atol=1e-8)


def test_mean_over_one_axis_divides_by_that_axis_alone():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(ourad.xp.mean(x, axis=0), [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(ourad.grad(lambda v: ourad.xp.sum(ourad.xp.mean(v, axis=0)))(x),
                                  np.full((2, 3), 0.5))


# --- second order: forward over reverse, for every rule ---------------------------------------

@pytest.mark.parametrize("name", NAMES)
@given(seed=seeds)
def test_forward_over_reverse_matches_central_differences_of_the_vjp(name, seed):
    prim, f, xs, args, params = _call(name, seed)
    if prim.kink is not None and np.any(prim.kink(*args, **params) < 1e-3):
        return   # differences of the first derivative would straddle a kink
    rng = np.random.default_rng(seed + 3)
    vs = [rng.standard_normal(np.shape(x)) for x in xs]
    u = rng.standard_normal(np.shape(f(*xs)))

    def pullback(*zs):   # z -> J(z)^T u, one array per input
        return ourad.vjp(f, *zs)[1](u)

    x_bars, hvps = ourad.jvp(pullback, xs, vs)
    h = 1e-5
    plus = pullback(*[x + h * v for x, v in zip(xs, vs)])
    minus = pullback(*[x - h * v for x, v in zip(xs, vs)])
    for i, (x_bar, hvp, p, m) in enumerate(zip(x_bars, hvps, plus, minus)):
        fd = (np.asarray(p) - np.asarray(m)) / (2 * h)
        tol = 1e-6 * (1 + np.abs(fd)) + 1e-9 * (1 + np.abs(x_bar)) / h
        assert np.shape(hvp) == np.shape(fd), (name, i)
        assert (np.abs(np.asarray(hvp) - fd) <= tol).all(), \
            f"{name}, input {i}: forward over reverse {hvp} vs differences {fd} (tol {tol})"
