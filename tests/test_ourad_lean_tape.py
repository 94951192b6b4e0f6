"""The lean tape of `grad`: a node keeps only the large values its VJP rules declare they read
(`needs`), so matmul outputs and bias sums are freed while the function still runs; a rule
without a declaration still gets every value, a rule changed between recording and walking
that would read a dropped value is refused, `vjp` keeps everything, nesting still works, and
the rules that write over their own temporaries give the same values bit for bit."""
import tracemalloc
import weakref

import numpy as np
import pytest

import ourad
from ourad import buffers, core, xp
from ourad.core import Absent, RuleReadsDroppedValue
from ourad.primitive import live
from ourad.rules import RULES
from ourad.xp import CONCRETE

B, N = 256, 300   # a (256, 300) float64 array is 600 kB: large enough to be dropped
assert 8 * B * N >= core.DROP_BYTES


@pytest.fixture
def no_buffers():
    """Large arrays freed when their last holder lets go (no kept buffers), so weak
    references and tracemalloc see what the tape holds."""
    buffers._enabled = False
    buffers.clear()
    yield
    buffers._enabled = True


@pytest.fixture
def swap():
    """Swaps a primitive's VJP rules for the test, restoring them after."""
    saved = []

    def do(name, vjp):
        prim = RULES[name]
        saved.append((prim, prim.vjp))
        prim.vjp = vjp
    yield do
    for prim, vjp in reversed(saved):
        prim.vjp = vjp


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, 2)), rng.standard_normal((2, N)), 0.1 * rng.standard_normal(N),
            rng.standard_normal(N))


class _Seen:
    def __init__(self, node):
        self.prim, self.args, self.out, self.dropped = (node.prim, node.args, node.primal,
                                                        node.dropped)


def _layer_tape(act):
    """The tape of grad of sum(act(x @ W + b) * w) with respect to W, b and w, as its nodes
    were before the reverse pass (which releases them)."""
    x, W, b, w = _data()
    seen = {}

    def f(W, b, w):
        h = act(x @ W + b)
        out = xp.sum(h * w)
        seen["tape"] = [_Seen(n) for n in live[out.level].tape]
        return out
    ourad.grad(f, (0, 1, 2))(W, b, w)
    return seen["tape"]


def test_the_tape_keeps_what_tanh_and_matmul_read_and_drops_the_rest():
    matmul, add, tanh, mul, _ = _layer_tape(xp.tanh)
    assert [n.prim.name for n in (matmul, add, tanh, mul)] == ["matmul", "add", "tanh", "multiply"]
    assert isinstance(matmul.out, Absent) and matmul.out.shape == (B, N)   # x @ W
    assert isinstance(add.args[0], Absent)   # x @ W + b reads shapes only (b is small)
    assert isinstance(add.out, Absent)
    assert isinstance(tanh.args[0], Absent) and type(tanh.out) is np.ndarray   # reads y
    assert type(mul.args[0]) is np.ndarray                   # h, read for w's cotangent
    assert tanh.dropped == (0,) and add.dropped == ("y", 0)


def test_relu_keeps_its_input_and_drops_its_output():
    _, _, relu, _, _ = _layer_tape(xp.relu)
    assert type(relu.args[0]) is np.ndarray and isinstance(relu.out, Absent)


def test_a_matmul_output_is_freed_during_the_forward_pass(no_buffers):
    x, W, b, w = _data()
    refs = {}

    def f(W, b, w):
        m = x @ W
        refs["m"] = weakref.ref(m.primal)
        a = m + b
        del m
        refs["freed before the reverse pass"] = refs["m"]() is None
        return xp.sum(xp.tanh(a) * w)
    ourad.grad(f, (0, 1, 2))(W, b, w)
    assert refs["freed before the reverse pass"]


def test_a_dropped_buffer_is_handed_out_again_during_the_forward_pass():
    x, W, b, w = _data()
    seen = {}

    def f(W, b, w):
        m = x @ W
        seen["m"] = m.primal.ctypes.data
        a = m + b
        del m
        seen["tanh"] = (h := xp.tanh(a)).primal.ctypes.data
        return xp.sum(h * w)
    got = ourad.grad(f, (0, 1, 2))(W, b, w)
    assert seen["tanh"] == seen["m"]
    h = np.tanh(x @ W + b)
    gz = w * (1 - h * h)
    np.testing.assert_allclose(got[0], x.T @ gz, rtol=1e-12)


def _peak(fn):
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def test_peak_memory_of_a_layer_gradient_is_three_activations(no_buffers):
    # forward: x @ W, + b, tanh (two at a time); reverse: h, its cotangent and one temporary
    x, W, b, w = _data()
    g = ourad.grad(lambda W, b, w: xp.sum(xp.tanh(x @ W + b) * w), (0, 1, 2))
    g(W, b, w)
    one = 8 * B * N
    assert _peak(lambda: g(W, b, w)) < 3.5 * one


def test_a_rule_without_a_declaration_gets_every_value(swap):
    x, W, b, w = _data()
    seen = []
    right = RULES["tanh"].vjp[0]

    def reads_input(xp_, g, y, x_):   # reads x, which tanh's own rule does not
        seen.append((type(y), type(x_)))
        return xp_.multiply(g, xp_.subtract(1.0, xp_.multiply(xp_.tanh(x_), xp_.tanh(x_))))

    def reads_output(xp_, g, y, a, b_):   # matmul's rules never read the output
        seen.append((type(y), type(a), type(b_)))
        return right_mm(xp_, g, y, a, b_)
    right_mm = RULES["matmul"].vjp[1]
    f = lambda W, b, w: xp.sum(xp.tanh(x @ W + b) * w)   # noqa: E731
    want = ourad.grad(f, (0, 1, 2))(W, b, w)
    swap("tanh", (reads_input,))
    swap("matmul", (RULES["matmul"].vjp[0], reads_output))
    got = ourad.grad(f, (0, 1, 2))(W, b, w)
    assert seen == [(np.ndarray, np.ndarray), (np.ndarray, np.ndarray, np.ndarray)]
    for a, c in zip(got, want):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)
    assert right is not reads_input


def test_a_rule_changed_inside_the_function_that_would_read_a_dropped_value_is_refused(swap):
    x, W, b, w = _data()

    def f(W, b, w):
        h = xp.tanh(x @ W + b)   # recorded for tanh's rule, which reads y alone
        swap("tanh", (lambda xp_, g, y, x_: xp_.multiply(g, xp_.cos(x_)),))
        return xp.sum(h * w)
    with pytest.raises(RuleReadsDroppedValue, match="'tanh'.*input 0"):
        ourad.grad(f, (0, 1, 2))(W, b, w)


def test_a_rule_changed_inside_the_function_that_declares_what_it_reads_runs(swap):
    x, W, b, w = _data()
    planted = lambda xp_, g, y, x_: xp_.multiply(g, 2.0)   # noqa: E731
    planted.needs = frozenset()

    def f(W, b, w):
        h = xp.tanh(x @ W + b)
        swap("tanh", (planted,))
        return xp.sum(h * w)
    got = ourad.grad(f, (0,))(W, b, w)
    np.testing.assert_allclose(got[0], x.T @ np.broadcast_to(2.0 * w, (B, N)), rtol=1e-12)


def test_vjp_keeps_every_value_for_a_rule_swapped_between_its_calls(swap):
    x, W, b, w = _data()
    y, back = ourad.vjp(lambda W: xp.tanh(x @ W + b), W)
    swap("tanh", (lambda xp_, g, y_, x_: xp_.multiply(g, xp_.cos(x_)),))
    got = back(np.ones((B, N)))[0]
    np.testing.assert_allclose(got, x.T @ np.cos(x @ W + b), rtol=1e-12)


def test_second_order_through_a_lean_tape_forward_over_reverse_and_reverse_over_reverse():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((B, N))
    v = rng.standard_normal((B, N))
    f = lambda x: xp.sum(xp.tanh(x) * xp.tanh(x) + xp.relu(x) * x)   # noqa: E731
    g = ourad.grad(f)
    # f'(x) = 2 tanh (1 - tanh^2) + 2 relu(x); f''(x) = 2 (1 - t^2)(1 - 3 t^2) + 2 [x >= 0]
    t = np.tanh(X)
    want = (2 * (1 - t * t) * (1 - 3 * t * t) + 2 * (X >= 0)) * v
    fwd = ourad.jvp(g, (X,), (v,))[1]
    rev = ourad.grad(lambda x: xp.sum(g(x) * v))(X)
    np.testing.assert_allclose(fwd, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rev, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(n for n in RULES if RULES[n].name != "concatenate"))
def test_each_declaration_covers_what_its_rule_reads(name):
    """Every rule run with its undeclared array values replaced by `Absent` gives what it
    gives with all of them: a declaration that leaves out a value the rule reads fails."""
    prim = RULES[name]
    for seed in range(10):
        args, params = prim.sample(np.random.default_rng(seed))
        y = prim.impl(*args, **params)
        g = np.random.default_rng(seed + 100).standard_normal(np.shape(y))
        g = float(g) if np.ndim(g) == 0 else g
        for i, rule in enumerate(prim.vjp):
            needs = getattr(rule, "needs", None)
            if rule is None or needs is None:
                continue
            lean = [a if j in needs or type(a) is not np.ndarray else Absent(a.shape, a.dtype)
                    for j, a in enumerate(args)]
            y_lean = y if "y" in needs or type(y) is not np.ndarray else Absent(y.shape, y.dtype)
            want = rule(CONCRETE, g, y, *args, **params)
            got = rule(CONCRETE, g, y_lean, *lean, **params)
            np.testing.assert_array_equal(got, want)


def test_every_rule_but_the_variadic_one_declares_what_it_reads():
    for name, prim in RULES.items():
        if name == "concatenate":
            continue
        for rule in prim.vjp:
            assert rule is None or isinstance(getattr(rule, "needs", None), frozenset), name


def test_an_absent_value_cannot_be_read():
    a = Absent((3, 4), np.dtype(np.float64))
    assert np.shape(a) == (3, 4) and np.ndim(a) == 2
    with pytest.raises(TypeError):
        np.multiply(a, 2.0)
    with pytest.raises(TypeError):
        np.asarray(a) + 1.0
    with pytest.raises(TypeError):
        a * 2.0


@pytest.mark.parametrize("name", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rules_writing_over_their_temporaries_give_the_plain_values_bit_for_bit(name, dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, N)).astype(dtype)
    x[0, :3] = 0.0
    t = rng.standard_normal((B, N)).astype(dtype)
    x0, t0 = x.copy(), t.copy()
    y = np.tanh(x) if name == "tanh" else np.maximum(x, 0)
    d = (1.0 - y * y) if name == "tanh" else (x >= 0).astype(dtype)
    want = t * d
    rule = RULES[name].vjp[0]
    for ns in (CONCRETE, xp):
        got = rule(ns, t, y, x)
        assert got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()
    assert ourad.jvp(getattr(xp, name), (x,), (t,))[1].tobytes() == want.tobytes()
    np.testing.assert_array_equal(x, x0)   # neither the input nor the tangent is written
    np.testing.assert_array_equal(t, t0)
    with ourad.count_flops() as c:
        rule(CONCRETE, t, y, x)
    assert c.by_primitive == {}   # concrete namespace: nothing counted, as before
    with ourad.count_flops() as c:
        ourad.grad(lambda v: xp.sum(getattr(xp, name)(v)))(x)
    assert c.by_primitive["multiply"] == B * N * (2 if name == "tanh" else 1)


@pytest.mark.parametrize("case", ["reused matmul output", "relu layers", "broadcast and sum"])
def test_a_lean_gradient_equals_the_full_tapes_bit_for_bit(case):
    """grad (lean tape) against vjp (every value kept): the same ops in the same order, so the
    same bits, also where a value whose entry dropped its output is used again."""
    x, W, b, w = _data(7)
    V = np.random.default_rng(8).standard_normal((N, N)) / np.sqrt(N)
    def reused(W):
        m = x @ W   # its entry drops it (matmul's rules do not read it); the tracer keeps it
        return xp.sum(xp.tanh(m + b) * w + m * 2.0 - xp.sin(m) * m)
    f = {"reused matmul output": reused,
         "relu layers": lambda W: xp.sum(xp.relu(xp.relu(x @ W + b) @ V - b) * w),
         "broadcast and sum": lambda W: xp.sum(xp.exp(xp.tanh(x @ W) - b) / (1.0 + w))}[case]
    lean = ourad.grad(f)(W)
    y, back = ourad.vjp(f, W)
    np.testing.assert_array_equal(lean, back(1.0)[0])
    with ourad.count_flops() as c_lean:
        ourad.grad(f)(W)
    with ourad.count_flops() as c_full:
        ourad.vjp(f, W)[1](1.0)
    assert c_lean.by_primitive == c_full.by_primitive


def test_a_rule_that_reads_more_than_it_declares_fails_loudly_not_silently(swap):
    # functools.wraps copies the declaration of the rule it wraps; reading x anyway must raise
    import functools
    x, W, b, w = _data()
    right = RULES["tanh"].vjp[0]

    @functools.wraps(right)
    def reads_x_too(xp_, g, y, x_):
        return xp_.multiply(right(xp_, g, y, x_), xp_.cos(xp_.multiply(0.0, x_)))
    assert reads_x_too.needs == frozenset({"y"})
    swap("tanh", (reads_x_too,))
    with pytest.raises(TypeError, match="Absent"):
        ourad.grad(lambda W: xp.sum(xp.tanh(x @ W + b) * w))(W)


def test_a_rule_that_compares_a_dropped_value_fails_rather_than_answering():
    """`==`, `!=` and `bool()` on a value the tape did not keep raise, as reading it does:
    Python's defaults would have answered (False, True) and the gradient been wrong."""
    import functools

    a = Absent((3,), np.dtype(np.float64))
    for probe in (lambda: a == 0, lambda: a != 0, lambda: bool(a), lambda: float(a),
                  lambda: len(a), lambda: list(a)):
        with pytest.raises(TypeError, match="did not keep"):
            probe()
    assert {a: 1}[a] == 1   # still hashable, by identity

    X = np.random.default_rng(0).standard_normal((300, 300))
    f = lambda w: xp.sum(xp.relu(X @ w) * X)   # noqa: E731
    orig = RULES["relu"].vjp

    @functools.wraps(orig[0])            # copies `needs`, which does not name the output
    def reads_the_output(xp_, t, y, x):
        return xp_.where(y == 0, 0.0, t)

    RULES["relu"].vjp = (reads_the_output,)
    try:
        with pytest.raises(TypeError, match="did not keep"):
            ourad.grad(f)(X)
    finally:
        RULES["relu"].vjp = orig
