"""The high-precision referee: the formula evaluated in mpmath at 50 significant digits on
object arrays, differentiated by central differences at h = 1e-20, where truncation (h^2 f''')
and roundoff (1e-50 / h) both sit near 1e-30: far below float64's resolution. It breaks ties
when the other engines disagree. Only for scalars and small arrays (MAX_SIZE entries)."""
from __future__ import annotations

import math

import mpmath
import numpy as np

from .protocol import Namespace, Unsupported, as_float64

DPS = 50
STEP = mpmath.mpf("1e-20")
MAX_SIZE = 64


def _vec(fn, nin=1):
    u = np.frompyfunc(fn, nin, 1)
    return lambda *a: u(*a)


def _max2(a, b):
    return a if a >= b else b


def _min2(a, b):
    return a if a <= b else b


def _reduce(fn):
    def r(x, axis=None, keepdims=False):
        return fn(np.asarray(x, dtype=object), axis=axis, keepdims=keepdims)
    return r


def _softmax(x, axis=-1):
    e = _vec(mpmath.exp)(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def _logsumexp(x, axis=None, keepdims=False):
    return _vec(mpmath.log)(np.sum(_vec(mpmath.exp)(x), axis=axis, keepdims=keepdims))


xp = Namespace("mpmath", np, {
    "sin": _vec(mpmath.sin), "cos": _vec(mpmath.cos), "exp": _vec(mpmath.exp),
    "log": _vec(mpmath.log), "log1p": _vec(mpmath.log1p), "tanh": _vec(mpmath.tanh),
    "sqrt": _vec(mpmath.sqrt), "abs": _vec(abs), "sign": _vec(mpmath.sign),
    "sigmoid": _vec(lambda x: 1 / (1 + mpmath.exp(-x))),
    "relu": _vec(lambda x: _max2(x, 0)),
    "maximum": _vec(_max2, 2), "minimum": _vec(_min2, 2),
    "pow": _vec(mpmath.power, 2), "power": _vec(mpmath.power, 2),
    "sum": _reduce(np.sum), "max": _reduce(np.max), "mean": _reduce(np.mean),
    "softmax": _softmax, "logsumexp": _logsumexp,
    "matrix_transpose": lambda x: np.swapaxes(x, -1, -2),
    "permute_dims": np.transpose,
    "getitem": lambda x, idx: x[idx],
    "stop_gradient": lambda x: x,
    "asarray": lambda x, dtype=None: np.asarray(x, dtype=object),
})


def _mp(x):
    return np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(x, float)) \
        if np.ndim(x) else np.array(mpmath.mpf(float(x)), dtype=object)


def _to_float(x):
    return np.vectorize(float, otypes=[float])(np.asarray(x, dtype=object)) \
        if np.ndim(x) else np.asarray(float(x))


MORE_DIGITS = 4   # how many times the referee raises its digits where f's change is lost


def _raising_digits(base: int, extra: int, compute):
    """`compute()` -> (result, lost) at `base + extra` working digits, then at `extra` more
    each time while it says its differences were lost in them, up to MORE_DIGITS times;
    the last result. Only inputs near 0 (`extra` > 0) can lose a change this way."""
    for more in range(MORE_DIGITS + 1):
        with mpmath.workdps(base + extra * (1 + more)):
            result, lost = compute()
        if not extra or not lost:
            break
    return result


def _lost(change, value) -> bool:
    """Whether f's change over the step sits within the last 10 working digits of an output
    entry that is not 0 (a change of exactly 0 included)."""
    floor = mpmath.mpf(10) ** (10 - mpmath.mp.dps)
    return any(v != 0 and abs(c) <= floor * abs(v)
               for c, v in zip(np.ravel(np.asarray(change, dtype=object)),
                               np.ravel(np.asarray(value, dtype=object))))


def _decades_below_one(primals) -> int:
    """How many decades the smallest nonzero input entry lies below 1 (0 if none does): the
    referee's steps shrink by as much, and its digits grow, so that an input near 0 (where
    kinks usually sit) is differentiated at itself, not across 0."""
    tiny = min((float(np.min(np.abs(p[p != 0]))) for p in map(np.asarray, primals)
                if np.any(p != 0)), default=1.0)
    return max(0, int(-math.floor(math.log10(min(tiny, 1.0)))))


class Referee:
    name = "referee"
    keeps_inputs = True   # never writes into an input: asked through views
    xp = xp
    version = mpmath.__version__
    digits = 30   # what it claims; it works at DPS = 50

    def _check(self, arrays):
        if sum(np.size(a) for a in arrays) > MAX_SIZE:
            raise Unsupported(f"referee: inputs larger than {MAX_SIZE} entries")

    def value(self, f, primals):
        self._check(primals)
        with mpmath.workdps(DPS):
            return _to_float(f(xp, *[_mp(p) for p in primals]))

    def _directional(self, f, primals, tangents, values=None):
        # Inputs close to 0 (where kinks usually sit: relu, abs) get a step below their size
        # and the digits to match, so that x = 1e-300 is differentiated at x, not across 0.
        # Where f's change over that step is still lost in its last digits at an output
        # entry that is not 0 (log(sigmoid(x^3)) at x = -3.9e-56 changes by 1e-187 around
        # -0.69), the digits are raised by the step's decades again, up to MORE_DIGITS times:
        # an answer of 0 there was the precision's, not the derivative's.
        shrink = _decades_below_one(primals)

        def differences():
            h = STEP * mpmath.mpf(10) ** (-shrink)
            # (a float's mpf is exact at any working precision, so converted inputs are kept
            # in `values` for every direction, and tangents may come converted)
            P = None if values is None else values.get("P")
            if P is None:
                P = [_mp(p) for p in primals]
                if values is not None:
                    values["P"] = P
            V = [v if getattr(v, "dtype", None) == object else _mp(v) for v in tangents]

            def g(t):
                # array times mpf, here and below, never mpf times array: that asks mpmath
                # to convert the array, which fails only after formatting all of it for its
                # error message, and NumPy then multiplies entry by entry anyway (the same
                # products; 40% of the default run's time went to those messages)
                return np.asarray(f(xp, *[p + v * t for p, v in zip(P, V)]), dtype=object)

            # f at the point itself: the same for every direction, so `values` (a dict
            # per point, by working digits) keeps it for a VJP's one direction per entry
            g0 = None if values is None else values.get(mpmath.mp.dps)
            if g0 is None:
                g0 = np.asarray(f(xp, *[p.copy() for p in P]), dtype=object)
                if values is not None:
                    values[mpmath.mp.dps] = g0
            gp, gm = g(h), g(-h)
            d = (gp - gm) / (2 * h)
            # one-sided differences that disagree mean a kink lies within the step
            spread = np.abs(np.asarray((gp - g0) / h - (g0 - gm) / h, dtype=object))
            scale = 1 + np.abs(np.asarray(d, dtype=object))
            if np.any(np.asarray(spread > scale * mpmath.mpf("1e-10"), dtype=bool)):
                raise Unsupported("referee: a non-differentiable point lies within its step "
                                  f"({mpmath.nstr(h, 3)}) of the input")
            return (_to_float(g0), _to_float(d)), bool(shrink) and _lost(gp - gm, g0)

        return _raising_digits(DPS, shrink, differences)

    def jvp(self, f, primals, tangents):
        self._check(primals)
        return self._directional(f, primals, tangents)

    def vjp(self, f, primals, cotangent):
        self._check(primals)
        u = as_float64(cotangent)
        zeros = [_mp(np.zeros(np.shape(p))) for p in primals]
        out, bars, values = None, [], {}
        for i, p in enumerate(primals):
            bar = np.zeros(np.size(p))
            for k in range(np.size(p)):   # the basis vectors, made as mpf arrays directly
                e = zeros[i].copy()
                e.reshape(-1)[k] = mpmath.mpf(1)
                ts = list(zeros)
                ts[i] = e
                out, col = self._directional(f, primals, ts, values)
                bar[k] = float(mpmath.fsum(float(a) * float(b) for a, b in
                                           zip(np.ravel(col), np.ravel(u))))
            bars.append(bar.reshape(np.shape(p)))
        if out is None:
            out = self.value(f, primals)
        return as_float64(out), tuple(bars)

    def hvp(self, f, primals, cotangent, tangents):
        """d/de [J(x + e t)^T u] at e = 0 by mixed second differences of <u, f> at 50
        digits: (g(+t, +e_k) - g(+t, -e_k) - g(-t, +e_k) + g(-t, -e_k)) / (4 h^2), h = 1e-12
        (truncation about h^2, roundoff about 10^-50 / h^2: both far below float64's)."""
        self._check(primals)
        shrink = _decades_below_one(primals)
        # inputs near 0 (kinks): a step below them, and the digits raised again where the
        # second difference is lost in them (as in `_directional`)
        out = _raising_digits(DPS, 2 * shrink, lambda: self._second_differences(
            f, primals, cotangent, tangents, shrink))
        return self.value(f, primals), tuple(out)

    @staticmethod
    def _second_differences(f, primals, cotangent, tangents, shrink):
        """hvp's columns at the working digits, and whether a difference was lost in them."""
        h = mpmath.mpf("1e-12") * mpmath.mpf(10) ** (-shrink)
        P = [_mp(p) for p in primals]
        T = [_mp(t) for t in tangents]
        U = np.ravel(_mp(as_float64(cotangent)))

        def g(st, i, k, sk):
            args = [p + t * st for p, t in zip(P, T)]
            e = np.zeros(np.size(P[i]), dtype=object)
            e[:] = mpmath.mpf(0)
            e[k] = sk
            args[i] = args[i] + e.reshape(np.shape(P[i]))
            return mpmath.fsum(a * b for a, b in zip(
                np.ravel(np.asarray(f(xp, *args), dtype=object)), U))
        out, lost = [], False
        for i, p in enumerate(P):
            col = []
            for k in range(np.size(p)):
                pp = g(h, i, k, h)
                num = pp - g(h, i, k, -h) - g(-h, i, k, h) + g(-h, i, k, -h)
                lost = lost or _lost([num], [pp])
                col.append(num / (4 * h * h))
            out.append(_to_float(np.array(col, dtype=object)).reshape(np.shape(p)))
        return out, lost
