"""ourad's public transforms: nesting, broadcasting, errors, kinks, traces and flop counts."""
import math
import operator
import re

import numpy as np
import pytest

import ourad
from ourad import xp
from ourad.__main__ import notes_example   # the notes' example, as the lines of its table


def d_fwd(f):
    """The derivative of a scalar function by forward mode."""
    return lambda x: ourad.jvp(f, (x,), (1.0,))[1]


d_rev = ourad.grad
MODES = {"fwd": d_fwd, "rev": d_rev}


@pytest.mark.parametrize("outer", MODES)
@pytest.mark.parametrize("inner", MODES)
def test_nested_differentiation_keeps_perturbations_apart(outer, inner):
    # d/dx [x * d/dy (x + y)] = 1; perturbation confusion would give 2
    D, E = MODES[outer], MODES[inner]
    assert D(lambda x: x * E(lambda y: x + y)(1.0))(2.0) == 1.0


@pytest.mark.parametrize("outer", MODES)
@pytest.mark.parametrize("inner", MODES)
def test_second_derivative_in_every_mix_of_modes(outer, inner):
    x = 0.7
    got = MODES[outer](MODES[inner](lambda t: xp.sin(t) * t ** 3))(x)
    want = -math.sin(x) * x**3 + 6 * math.cos(x) * x**2 + 6 * x * math.sin(x)
    assert got == pytest.approx(want, rel=1e-13)


def test_hessian_is_forward_over_reverse_and_matches_closed_form():
    x = np.array([0.3, -1.2, 2.0])
    H = ourad.hessian(lambda v: xp.sum(xp.exp(v[0] * v[1]) + v[2] ** 2 * v[0]))(x)
    a, b, c = x
    e = math.exp(a * b)
    want = np.array([[b * b * e, e + a * b * e, 2 * c],
                     [e + a * b * e, a * a * e, 0.0],
                     [2 * c, 0.0, 2 * a]])
    np.testing.assert_allclose(H, want, rtol=1e-13)


def test_jacfwd_equals_jacrev():
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    f = lambda v: xp.tanh(W @ v) * xp.sum(v)  # noqa: E731
    np.testing.assert_allclose(ourad.jacfwd(f)(x), ourad.jacrev(f)(x), rtol=1e-14, atol=1e-15)
    assert ourad.jacfwd(f)(x).shape == (3, 4)


def test_broadcasting_is_undone_in_reverse_mode():
    x = np.arange(6.0).reshape(2, 3)
    gb = ourad.grad(lambda b: xp.sum(x * b), 0)(np.ones((1, 3)))
    np.testing.assert_array_equal(gb, [[3.0, 5.0, 7.0]])
    gs = ourad.grad(lambda s: xp.sum(x + s))(np.float64(2.0))
    assert np.shape(gs) == () and gs == 6.0


def test_value_and_grad_with_several_argnums():
    v, (gx, gy) = ourad.value_and_grad(lambda x, y: x * y + y, (0, 1))(3.0, 4.0)
    assert (v, gx, gy) == (16.0, 4.0, 4.0)


def test_indexing_accumulates_repeated_entries():
    g = ourad.grad(lambda v: xp.sum(v[np.array([0, 2, 2])] ** 2))(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(g, [2.0, 0.0, 12.0])


def test_softmax_cross_entropy_gradient():
    z, t = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, 0.0])
    g = ourad.grad(lambda v: -xp.sum(t * xp.log(xp.softmax(v))))(z)
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(g, p - t, rtol=1e-14, atol=1e-16)


def test_nan_and_inf_propagate_as_values():
    with np.errstate(all="ignore"):
        assert math.isnan(ourad.grad(lambda x: xp.log(x))(float("nan")))
        y, dy = ourad.jvp(lambda x: xp.log(x), (0.0,), (1.0,))
        assert y == -math.inf and dy == math.inf
        assert ourad.grad(lambda x: 1.0 / x)(0.0) == -math.inf


# --- the documented values at kinks -----------------------------------------------------------

KINKS = [  # (function, point, ourad's documented derivative there)
    (lambda z: xp.relu(z), 0.0, 1.0),                  # the notes: f'(z) = 1 for z >= 0
    (lambda z: xp.abs(z), 0.0, 0.0),
    (lambda z: xp.maximum(z, 0.0), 0.0, 0.5),
    (lambda z: xp.minimum(z, 0.0), 0.0, 0.5),
    (lambda z: xp.where(z >= 0, z, 0.0), 0.0, 1.0),
    (lambda z: xp.max(xp.stack([z, z])), 0.0, 1.0),   # ties share: 1/2 + 1/2
]


@pytest.mark.parametrize("f,x,want", KINKS)
@pytest.mark.parametrize("mode", MODES)
def test_value_at_kink_is_the_documented_one(f, x, want, mode):
    assert MODES[mode](f)(x) == want


# --- errors -----------------------------------------------------------------------------------

def test_integer_input_to_grad_raises_type_error_naming_dtype():
    with pytest.raises(TypeError, match=r"ourad\.grad: .*int64"):
        ourad.grad(lambda x: xp.sum(x * x))(np.arange(3))
    with pytest.raises(TypeError, match="int"):
        ourad.grad(lambda x: x * x)(3)


def test_cotangent_of_wrong_shape_raises_value_error_naming_both_shapes():
    _, back = ourad.vjp(lambda x: x * 2.0, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        back(np.ones((3, 2)))


def test_missing_op_raises_not_implemented_naming_it():
    with pytest.raises(NotImplementedError, match="arctanh"):
        xp.arctanh(0.5)


def test_grad_of_non_scalar_raises():
    with pytest.raises(ValueError, match="scalar"):
        ourad.grad(lambda x: x * 2.0)(np.ones(3))


def test_escaped_tracer_is_reported():
    box = []
    ourad.grad(lambda x: box.append(x) or x * 1.0)(1.0)
    with pytest.raises(RuntimeError, match="escaped"):
        box[0] * 2.0


def test_integer_bool_and_complex_tangents_raise_type_error_naming_dtype():
    for bad in (np.arange(3), np.ones(3, bool), np.ones(3, complex)):
        with pytest.raises(TypeError, match=rf"ourad\.jvp: .*tangent.*{bad.dtype}"):
            ourad.jvp(lambda x: x * 2.0, (np.ones(3),), (bad,))
    with pytest.raises(TypeError, match=r"ourad\.jvp: .*tangent.*int"):
        ourad.jvp(lambda x: x * 2.0, (1.0,), (1,))


def test_integer_bool_and_complex_cotangents_raise_type_error_naming_dtype():
    _, back = ourad.vjp(lambda x: x * 2.0, np.ones(3))
    for bad in (np.arange(3), np.ones(3, bool), np.ones(3, complex)):
        with pytest.raises(TypeError, match=rf"ourad\.vjp: .*cotangent.*{bad.dtype}"):
            back(bad)
    _, back = ourad.vjp(lambda x: x * 2.0, 1.0)
    with pytest.raises(TypeError, match=r"ourad\.vjp: .*cotangent.*int"):
        back(1)


def test_a_missing_cotangent_is_refused():
    _, back = ourad.vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(TypeError, match=r"ourad\.vjp: the cotangent is None.*\(3,\)"):
        back(None)


# Converting a traced value to a plain number or array loses its derivative: refused, naming
# the conversion, as JAX's ConcretizationTypeError does.
CONVERSIONS = {
    "float()": lambda x: x * float(x),
    "int()": lambda x: x * int(x),
    "operator.index()": lambda x: x * [1.0, 2.0][operator.index(x)],
    "complex()": lambda x: x * complex(x).real,
    "math.sin()": lambda x: x * math.sin(x),
    "np.mean()": lambda x: x * np.mean(x),
    "np.asarray()": lambda x: x * np.asarray(x),
}


@pytest.mark.parametrize("conversion", CONVERSIONS)
@pytest.mark.parametrize("mode", MODES)
def test_converting_a_traced_value_raises_naming_the_conversion(conversion, mode):
    want = {"math.sin()": "float()", "np.mean()": "NumPy", "np.asarray()": "NumPy",
            "operator.index()": "index"}.get(conversion, conversion)
    with pytest.raises(TypeError, match=rf"{re.escape(want)}.*traced value.*ourad\.xp"):
        MODES[mode](CONVERSIONS[conversion])(1.0)


@pytest.mark.parametrize("mode", MODES)
def test_comparisons_and_branches_on_traced_values_still_work(mode):
    def f(x):
        y = xp.where(x > 0, x * x, -x)
        if x > 0 and y:             # plain booleans: branch on the primal
            return y * 3.0
        return y
    assert MODES[mode](f)(2.0) == 12.0
    assert MODES[mode](f)(-2.0) == -1.0


def test_stop_gradient_never_hands_out_the_callers_buffer():
    a = np.array([1.0, 2.0])

    def f(v):
        c = xp.stop_gradient(v)
        c[0] = 99.0           # a constant of f's own: writing to it must not reach the caller
        return xp.sum(v * c)
    g = ourad.grad(f)(a)
    np.testing.assert_array_equal(a, [1.0, 2.0])
    np.testing.assert_array_equal(g, [99.0, 2.0])
    y, _ = ourad.jvp(lambda v: v * xp.stop_gradient(v), (a,), (np.ones(2),))
    np.testing.assert_array_equal(y, [1.0, 4.0])


# --- several outputs --------------------------------------------------------------------------

def two_outputs(x):
    return x * 2.0, [xp.sin(x), 3.0 * xp.ones_like(x)]


def test_vjp_of_several_outputs_returns_arrays_and_takes_a_matching_cotangent():
    x = np.array([0.5, -1.0, 2.0])
    y, back = ourad.vjp(two_outputs, x)
    assert type(y) is tuple and type(y[1]) is list
    assert all(type(v) is np.ndarray for v in (y[0], *y[1]))
    np.testing.assert_array_equal(y[0], 2 * x)
    np.testing.assert_array_equal(y[1][0], np.sin(x))
    u0, u1, u2 = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 4.0]), np.ones(3)
    (x_bar,) = back((u0, [u1, u2]))
    np.testing.assert_allclose(x_bar, 2 * u0 + np.cos(x) * u1, rtol=1e-15)
    # the same output twice: its cotangents add up
    _, back2 = ourad.vjp(lambda v: (v * 2.0, v * 2.0), x)
    np.testing.assert_array_equal(back2((u0, u1))[0], 2 * (u0 + u1))


def test_vjp_of_several_outputs_refuses_a_cotangent_of_another_structure():
    x = np.ones(3)
    _, back = ourad.vjp(two_outputs, x)
    with pytest.raises(ValueError, match="structure"):
        back(np.ones(3))
    with pytest.raises(ValueError, match="structure"):
        back((np.ones(3), np.ones(3)))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        back((np.ones(3), [np.ones(2), np.ones(3)]))


def test_output_that_is_no_array_is_refused_naming_its_type():
    for transform in (lambda f: ourad.vjp(f, 1.0), lambda f: ourad.jvp(f, (1.0,), (1.0,))):
        with pytest.raises(TypeError, match="dict"):
            transform(lambda x: {"y": x})


@pytest.mark.parametrize("jac", [ourad.jacfwd, ourad.jacrev])
def test_jacobian_of_several_outputs_has_one_block_per_output(jac):
    x = np.array([0.5, -1.0, 2.0])
    J = jac(two_outputs)(x)
    np.testing.assert_allclose(J[0], 2 * np.eye(3))
    np.testing.assert_allclose(J[1][0], np.diag(np.cos(x)), rtol=1e-15)
    np.testing.assert_array_equal(J[1][1], np.zeros((3, 3)))


@pytest.mark.parametrize("jac", [ourad.jacfwd, ourad.jacrev])
@pytest.mark.parametrize("f,x,shape", [
    (lambda v: v * 2.0, np.zeros(0), (0, 0)),
    (lambda v: xp.sum(v), np.zeros(0), (0,)),
    (lambda v: v[:0], np.ones(3), (0, 3)),
    (lambda v: xp.reshape(v, (2, 0)) * 2.0, np.zeros((0, 2)), (2, 0, 0, 2)),
])
def test_empty_jacobian_has_shape_out_by_in(jac, f, x, shape):
    J = jac(f)(x)
    assert np.shape(J) == shape and np.result_type(J) == np.float64


def test_hessian_of_a_function_of_no_entries_is_empty():
    assert np.shape(ourad.hessian(lambda v: xp.sum(v * v))(np.zeros(0))) == (0, 0)


# --- the trace --------------------------------------------------------------------------------

def test_trace_reproduces_the_printed_primal_column():
    t = ourad.trace(notes_example, 1.5, 0.5)
    # as printed in the notes, v_{-1} .. v_6, three decimals
    printed = [1.500, 0.500, 3.000, 0.141, 1.649, 1.351, 1.492, 2.017]
    assert [e.index for e in t.entries] == list(range(-1, 7))
    for e, p in zip(t.entries, printed):
        assert abs(e.primal - p) <= 0.0005, (e.name, e.primal, p)
    assert [e.op for e in t.entries[2:]] == ["divide", "sin", "exp", "subtract", "add",
                                           "multiply"]


def test_trace_tangents_and_adjoints_match_the_transforms():
    for seed in [(1.0, 0.0), (0.0, 1.0)]:
        t = ourad.trace(notes_example, 1.5, 0.5, tangents=seed)
        _, dy = ourad.jvp(notes_example, (1.5, 0.5), seed)
        assert t.entries[-1].tangent == dy
    g = ourad.grad(notes_example, (0, 1))(1.5, 0.5)
    assert (t.entries[0].adjoint, t.entries[1].adjoint) == g
    assert "v_{-1}" in str(t) and "sin(v_{1})" in str(t)


# --- flop accounting ----------------------------------------------------------------------------

def notes_network(rng, act=xp.tanh):
    sizes = [2, 1000, 1000, 1]
    Ws = [rng.standard_normal((a, b)) / math.sqrt(a) for a, b in zip(sizes, sizes[1:])]
    bs = [np.zeros(b) for b in sizes[1:]]

    def loss(x, *params):
        h = x
        for k in range(3):
            h = xp.add(xp.matmul(h, params[2 * k]), params[2 * k + 1])
            if k < 2:
                h = act(h)
        return xp.multiply(0.5, xp.sum(xp.multiply(h, h)))

    return loss, [p for pair in zip(Ws, bs) for p in pair]


def test_input_gradient_does_no_weight_gradient_products():
    rng = np.random.default_rng(0)
    loss, params = notes_network(rng)
    x = rng.standard_normal((1, 2))
    forward = 2 * (2 * 1000 + 1000 * 1000 + 1000)  # 2mkn per layer: 2.006e6
    with ourad.count_flops() as c_fwd:
        loss(x, *params)
    with ourad.count_flops() as c_x:
        ourad.grad(loss, 0)(x, *params)
    with ourad.count_flops() as c_w:
        ourad.grad(loss, (1, 3, 5))(x, *params)  # the three weight matrices
    assert c_fwd.by_primitive["matmul"] == forward
    # backward to the input: one product with W^T per layer, each as large as its forward
    assert c_x.by_primitive["matmul"] == 2 * forward
    assert c_x.calls["matmul"] == 3 + 3
    # backward to the weights: three outer products (as large as the forward) and the
    # products with W3^T and W2^T, but none with W1^T (the input is not asked for)
    assert c_w.by_primitive["matmul"] == 3 * forward - 2 * 2 * 1000
    assert c_w.calls["matmul"] == 3 + 3 + 2


def test_flops_of_matmul_are_2mkn():
    with ourad.count_flops() as c:
        xp.matmul(np.ones((3, 4)), np.ones((4, 5)))
    assert c.by_primitive == {"matmul": 2 * 3 * 4 * 5}
