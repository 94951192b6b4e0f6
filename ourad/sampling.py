"""The domains of the rule table's primitives: each `sample(rng) -> (inputs, params)` draws a
valid call, for the tests that run every rule (`tests/test_ourad_rules.py`)."""
from __future__ import annotations

import numpy as np


def values(rng, domain, shape):
    x = rng.standard_normal(shape)
    if domain == "real":
        return 1.5 * x
    if domain == "positive":        # log, sqrt, bases of pow: kept away from 0
        return np.exp(0.7 * x)
    if domain == "nonzero":         # divisors
        return np.sign(x) * (0.4 + np.abs(x))
    if domain == "above-1":         # log1p
        return np.exp(0.7 * x) - 0.9
    raise ValueError(domain)


def _shape(rng, ndim=None):
    ndim = int(rng.integers(0, 3)) if ndim is None else ndim
    return tuple(int(d) for d in rng.integers(1, 4, size=ndim))


def _pick(rng, options):
    return options[int(rng.integers(0, len(options)))]


def elementwise(*domains):
    """Inputs of one drawn shape; for two inputs, the second is sometimes broadcast."""
    def sample(rng):
        shape = _shape(rng)
        shapes = [shape] * len(domains)
        if len(domains) == 2 and shape and rng.random() < 0.5:
            b = list(shape[int(rng.integers(0, len(shape))):])
            if b and rng.random() < 0.5:
                b[0] = 1
            shapes[1] = tuple(b)
        return tuple(values(rng, d, s) for d, s in zip(domains, shapes)), {}
    sample.domains = domains        # read by the harness's table of primitives
    return sample


def where(rng):
    (a, b), _ = elementwise("real", "real")(rng)
    return (rng.random(np.shape(a)) < 0.5, a, b), {}


def matmul(rng):
    m, k, n, batch = (int(v) for v in rng.integers(1, 4, size=4))
    a_shape, b_shape = [((m, k), (k, n)), ((k,), (k, n)), ((m, k), (k,)), ((k,), (k,)),
                        ((batch, m, k), (k, n)), ((batch, m, k), (batch, k, n))][
        int(rng.integers(0, 6))]
    return (values(rng, "real", a_shape), values(rng, "real", b_shape)), {}


def reduction(rng):
    x = values(rng, "real", _shape(rng, 3))
    axis = _pick(rng, [None, 0, 1, -1, (0, 2), (2, -3), ()])
    return (x,), {"axis": axis, "keepdims": bool(rng.random() < 0.5)}


def reshape(rng):
    return (values(rng, "real", (2, 3, 2)),), {"shape": _pick(rng, [(12,), (3, 4), (2, 6, 1)])}


def broadcast_to(rng):
    x_shape, shape = _pick(rng, [((3, 1), (2, 3, 4)), ((4,), (3, 4)), ((), (2, 2))])
    return (values(rng, "real", x_shape),), {"shape": shape}


def permute_dims(rng):
    return (values(rng, "real", (2, 3, 4)),), {"axes": tuple(int(a) for a in rng.permutation(3))}


_INDICES = [(slice(1, 3), 2), (np.array([0, 2, 2, 3]),), (Ellipsis, 1), (slice(None, None, 2),),
            (np.array([1, 1]), np.array([0, 4]))]


def getitem(rng):
    return (values(rng, "real", (4, 5)),), {"idx": _pick(rng, _INDICES)}


def scatter_add(rng):
    idx = _pick(rng, _INDICES)
    g = values(rng, "real", np.zeros((4, 5))[idx].shape)
    return (g,), {"idx": idx, "shape": (4, 5)}


def concatenate(rng):
    n, axis = int(rng.integers(1, 4)), int(rng.integers(0, 2))
    xs = tuple(values(rng, "real", (2, int(d)) if axis == 1 else (int(d), 3))
               for d in rng.integers(1, 4, size=n))
    return xs, {"axis": axis}
