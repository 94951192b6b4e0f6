"""ourad's kept buffers for large arrays: the same values as plain NumPy, and a buffer anyone
still refers to (a caller, a view, a tape) is never written again."""
import numpy as np
import pytest

import ourad
from ourad import buffers, xp
from ourad.rules import RULES

BIG = (300, 200)   # 480 kB in float64: kept
assert 8 * BIG[0] * BIG[1] >= buffers.MIN_BYTES


@pytest.fixture
def plain():
    """Runs a block with the buffers switched off, for the reference values."""
    class Plain:
        def __enter__(self):
            buffers._enabled = False

        def __exit__(self, *exc):
            buffers._enabled = True
    yield Plain()
    buffers._enabled = True


def _inputs(name, rng, dtype):
    if name in ("log", "sqrt"):
        return (rng.uniform(0.5, 2.0, BIG).astype(dtype),)
    if name == "log1p":
        return (rng.uniform(-0.5, 2.0, BIG).astype(dtype),)
    x = rng.standard_normal(BIG).astype(dtype)
    if len(RULES[name].partials) == 1:
        return (x,)
    b = rng.uniform(0.5, 2.0, BIG).astype(dtype) if name in ("divide", "pow") else \
        rng.standard_normal(BIG).astype(dtype)
    return x, b


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(n for n in RULES if RULES[n].partials is not None))
def test_large_results_equal_plain_numpy_bit_for_bit(name, dtype, plain):
    args = _inputs(name, np.random.default_rng(0), dtype)
    if name == "pow":
        args = (np.abs(args[0]) + 0.5, args[1])
    impl = RULES[name].impl
    variants = [args] if len(args) == 1 else \
        [args, (args[0], 1.5), (1.5, args[1]), (args[0], args[1][0])]   # and broadcast
    for variant in variants:
        with plain:
            want = impl(*variant)
        got = impl(*variant)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_a_buffer_held_by_the_caller_or_a_view_is_never_reused():
    x = np.random.default_rng(1).standard_normal(BIG)
    a = xp.tanh(x)
    a_copy = a.copy()
    b = xp.sin(x)
    assert b is not a
    view = b[:10]
    b_copy = b.copy()
    del b
    for _ in range(5):
        c = xp.exp(x)
        assert c is not a and c.base is not view.base
        del c
    np.testing.assert_array_equal(a, a_copy)
    np.testing.assert_array_equal(view, b_copy[:10])


def test_a_freed_buffer_is_handed_out_again():
    x = np.random.default_rng(2).standard_normal(BIG)
    a = xp.tanh(x)
    addr = a.ctypes.data
    del a
    assert xp.cos(x).ctypes.data == addr


def _network(rng, batch):
    sizes = [2, 300, 300, 1]
    params = []
    for m, n in zip(sizes, sizes[1:]):
        params += [rng.standard_normal((m, n)) / np.sqrt(m), 0.1 * rng.standard_normal(n)]
    return rng.standard_normal((batch, 2)), rng.standard_normal((batch, 1)), params


def _numpy_gradient(x, t, W1, b1, W2, b2, W3, b3):
    h1 = np.tanh(x @ W1 + b1)
    h2 = np.maximum(h1 @ W2 + b2, 0)
    o = h2 @ W3 + b3
    g = o - t
    gz2 = (g @ W3.T) * (h2 > 0)
    gz1 = (gz2 @ W2.T) * (1 - h1 * h1)
    return [x.T @ gz1, gz1.sum(0), h1.T @ gz2, gz2.sum(0), h2.T @ g, g.sum(0)]


def test_repeated_gradients_kept_by_the_caller_stay_intact():
    rng = np.random.default_rng(3)
    x, t, params = _network(rng, batch=256)

    def loss(*p):
        h = xp.tanh(x @ p[0] + p[1])
        h = xp.relu(h @ p[2] + p[3])
        return 0.5 * xp.sum((h @ p[4] + p[5] - t) ** 2)
    g = ourad.grad(loss, (0, 1, 2, 3, 4, 5))
    results = [g(*params) for _ in range(4)]
    want = _numpy_gradient(x, t, *params)
    for got in results:
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert len({id(r[2]) for r in results}) == 4   # each call its own W2 gradient


def test_inputs_are_never_written():
    rng = np.random.default_rng(4)
    x, t, params = _network(rng, batch=256)
    before = [p.copy() for p in params]

    def loss(*p):
        return xp.sum(xp.tanh(x @ p[0] + p[1]) @ p[2])
    ourad.grad(loss, (0, 1, 2))(*params[:3])
    for p, q in zip(params, before):
        np.testing.assert_array_equal(p, q)
