"""Finite differences as an oracle, each result with an honest error estimate.

Every estimate differentiates g(t) = f(x + t v) at t = 0 along a direction v. The step is not a
constant: a pilot stencil at a coarse step measures the derivative that drives the truncation
error (f'' for one-sided, f''' for central differences), and the step is chosen where that
truncation error meets the roundoff error eps |f| / h, the balance the notes warn about
("numerical instability if h small, inaccurate if h large"). The estimate's error bound is
the sum of both terms, with a safety factor. Richardson extrapolation of central differences
(the five-point stencil) and the complex step (for real-analytic formulas) are the
higher-order methods. Every evaluation of f is counted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .protocol import Namespace, Unsupported, as_float64, basis


def _softmax(x, axis=-1):
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


def _logsumexp(x, axis=None, keepdims=False):
    c = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - c), axis=axis, keepdims=True)) + c
    return out if keepdims else np.squeeze(out, axis=axis)


xp = Namespace("numpy", np, {
    "pow": np.power,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "softmax": _softmax,
    "logsumexp": _logsumexp,
    "matrix_transpose": lambda x: np.swapaxes(x, -1, -2),
    "permute_dims": np.transpose,
    "getitem": lambda x, idx: x[idx],
    "stop_gradient": lambda x: x,
    "asarray": lambda x, dtype=None: np.asarray(x, dtype=dtype),
})

MAX_VJP_INPUTS = 256
SAFETY = 4.0      # on every error bound: the pilot's derivative is itself an estimate
ROUNDOFF = 4.0    # ulps of f lost per evaluation (a few ulps for ordinary formulas)


def _shifted(a, t, v, dtype, out=None):
    """a + t v in `dtype`, as `a + t * v` rounds it (the product, then the sum); written
    into `out` (an array nothing else holds) where it fits."""
    v = np.asarray(v, dtype)
    if out is not None and out.shape == v.shape == np.shape(a) and \
            out.dtype == v.dtype == a.dtype:
        return np.add(a, np.multiply(t, v, out=out), out=out)
    d = np.asarray(t * v)
    if d.ndim and d.shape == np.shape(a) and d.dtype == a.dtype:
        return np.add(a, d, out=d)
    return a + d


def _absmax(a) -> float:
    """max |a| (NaN if a has one), without an array of |a| for floating-point `a` (integers
    and booleans are converted first: -a would wrap or fail)."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    return float(np.maximum(a.max(), -a.min()))


@dataclass
class Estimate:
    value: np.ndarray       # the derivative along v (shape of f's output)
    error: np.ndarray       # estimated bound of |value - exact|, entrywise
    evaluations: int
    step: float
    method: str


class FiniteDifferences:
    """The `fd` engine. `method`: "central" (default), "forward", "backward", "richardson"
    or "complex"; `step`: a fixed h instead of the error model's."""

    name = "fd"
    keeps_inputs = True   # never writes into an input: asked through views
    xp = xp
    version = np.__version__

    def __init__(self, method: str = "central", step: float | None = None,
                 dtype=np.float64):
        if method not in ("central", "forward", "backward", "richardson", "complex"):
            raise ValueError(f"fd: unknown method {method!r}")
        self.method, self.step, self.dtype = method, step, np.dtype(dtype)
        self.evaluations = 0   # of f at one point each (a batched call of k points counts k)
        self.calls = 0
        self.last: Estimate | None = None

    # --- the protocol ---------------------------------------------------------------------

    def jvp(self, f, primals, tangents):
        return self.jvp_with_error(f, primals, tangents)[:2]

    def vjp(self, f, primals, cotangent):
        return self.vjp_with_error(f, primals, cotangent)[:2]

    # the capability the harness uses to hold fd to its own error estimate
    def jvp_with_error(self, f, primals, tangents):
        """(out, J v, entrywise bound of the error of J v)."""
        est = self.directional(f, primals, tangents)
        self.last = est
        return as_float64(self._eval(f, primals)), as_float64(est.value), as_float64(est.error)

    def vjp_with_error(self, f, primals, cotangent):
        """(out, J^T u, entrywise bounds of the errors of J^T u, one per input)."""
        n = sum(np.size(p) for p in primals)
        if n > MAX_VJP_INPUTS:
            raise Unsupported(f"fd: a VJP costs one directional derivative per input entry "
                              f"({n} > {MAX_VJP_INPUTS}); the harness confirms large VJPs "
                              "along one random direction instead")
        J, err, out = self.jacobian(f, primals)
        u = as_float64(cotangent).reshape(-1)
        bars, errs, start = [], [], 0
        for p in primals:
            n = np.size(p)
            bars.append((u @ J[:, start:start + n]).reshape(np.shape(p)))
            errs.append((np.abs(u) @ err[:, start:start + n]).reshape(np.shape(p)))
            start += n
        self.last = Estimate(tuple(bars), tuple(errs), self.evaluations, float("nan"),
                             self.method)
        return out, tuple(bars), tuple(errs)

    # --- the estimates ----------------------------------------------------------------------

    def _eval(self, f, primals, t=0.0, tangents=None, scratch=None):
        """f at primals + t tangents. `scratch` (a dict kept by the caller across its
        evaluations, which copies every result) holds the shifted inputs' arrays, reused
        from one evaluation to the next: inputs may be large, and a fresh array of
        megabytes is faulted in page by page."""
        self.evaluations += 1
        self.calls += 1
        args = [np.asarray(p, self.dtype) for p in primals]
        if t != 0.0:   # a + t v, with one array per input (inputs may be large)
            if scratch is None:
                args = [_shifted(a, t, v, self.dtype) for a, v in zip(args, tangents)]
            else:
                args = [_shifted(a, t, v, self.dtype, scratch.get(i))
                        for i, (a, v) in enumerate(zip(args, tangents))]
                for i, a in enumerate(args):
                    if isinstance(a, np.ndarray) and a.ndim and i not in scratch:
                        scratch[i] = a   # (made by _shifted, so nothing else holds it)
        return np.asarray(f(xp, *args))

    def directional(self, f, primals, tangents, method: str | None = None,
                    step: float | None = None) -> Estimate:
        """The derivative of f at `primals` along `tangents`, with its error bound."""
        method, step = method or self.method, step or self.step
        before = self.evaluations
        vmax = max((_absmax(np.asarray(v)) for v in tangents if np.size(v)), default=0.0)
        if vmax == 0.0:
            out = self._eval(f, primals)
            return Estimate(np.zeros_like(out, dtype=float), np.zeros_like(out, dtype=float),
                            self.evaluations - before, 0.0, method)
        xmax = max((_absmax(np.asarray(p)) for p in primals if np.size(p)), default=0.0)
        scale = max(1.0, xmax) / vmax            # h * |v| is measured against |x|
        scratch: dict = {}   # every result is copied (astype) before the next evaluation
        g = lambda t: self._eval(f, primals, t, tangents, scratch).astype(float)  # noqa: E731
        if method == "complex":
            val, err, h = self._complex(f, primals, tangents, scale)
        elif method in ("forward", "backward"):
            val, err, h = self._one_sided(g, scale, step, 1.0 if method == "forward" else -1.0)
        else:
            val, err, h = self._central(g, scale, step, method == "richardson")
        return Estimate(val, err, self.evaluations - before, h, method)

    def _complex(self, f, primals, tangents, scale):
        eps = float(np.finfo(self.dtype).eps)
        h = 1e-20 * scale
        try:
            self.evaluations += 1
            self.calls += 1
            args = [np.asarray(p, complex) + 1j * h * np.asarray(v, float)
                    for p, v in zip(primals, tangents)]
            val = np.imag(np.asarray(f(xp, *args))) / h
        except (TypeError, ValueError) as exc:
            raise Unsupported(f"complex step: the formula is not complex-safe ({exc})")
        # a formula that is not real-analytic (abs, maximum, ...) runs on complex numbers
        # but answers wrongly: cross-check against central differences
        check = self.directional(f, primals, tangents, method="central")
        if np.any(np.abs(val - check.value) > check.error):
            raise Unsupported("complex step disagrees with central differences beyond "
                              "their error: the formula is not real-analytic here")
        return val, SAFETY * eps * np.abs(val) + 1e-300, h

    def _one_sided(self, g, scale, step, sign):
        eps = float(np.finfo(self.dtype).eps)
        g0 = g(0.0)
        mag = np.abs(g0)
        if step is None:   # pilot: f'' by a three-point stencil at H = eps^(1/4)
            H = eps ** 0.25 * scale
            d2 = np.abs(g(H) - 2 * g0 + g(-H)) / H**2
            h = _clip(2 * np.sqrt(eps * max(mag.max(), 1e-300) / max(d2.max(), 1e-300)),
                      eps ** 0.5 * scale * 1e-2, H)
        else:
            d2, h = None, step
        g1 = g(sign * h)
        val = sign * (g1 - g0) / h
        mag = np.maximum(mag, np.abs(g1))
        trunc = 0.5 * h * d2 if d2 is not None else 0.0
        err = SAFETY * (trunc + 2 * ROUNDOFF * eps * mag / h + eps * scale / h * np.abs(val))
        return val, err, h

    def _central(self, g, scale, step, richardson):
        """Central differences, or Richardson's extrapolation of them; both pilot the third
        derivative by a five-point stencil at H = eps^(1/5)."""
        eps = float(np.finfo(self.dtype).eps)
        g0 = g(0.0)
        mag = np.abs(g0)
        H = eps ** 0.2 * scale
        if step is None or richardson:
            gp1, gm1, gp2, gm2 = g(H), g(-H), g(2 * H), g(-2 * H)
            d3 = np.abs(gp2 - 2 * gp1 + 2 * gm1 - gm2) / (2 * H**3)
            mag = np.maximum.reduce([mag, np.abs(gp1), np.abs(gm1), np.abs(gp2), np.abs(gm2)])
        if richardson:
            # central differences at H, H/2, H/4, extrapolated twice: R1 from (H, H/2) and R2
            # from (H/2, H/4) cancel the h^2 term (each is the five-point stencil); R2's error
            # is about |R1 - R2| / 15, since both are dominated by an h^4 term
            gph, gmh, gpq, gmq = g(H / 2), g(-H / 2), g(H / 4), g(-H / 4)
            d1, d2, d4 = (gp1 - gm1) / (2 * H), (gph - gmh) / H, (gpq - gmq) / (H / 2)
            r1, r2 = (4 * d2 - d1) / 3, (4 * d4 - d2) / 3
            mag = np.maximum.reduce([mag, np.abs(gph), np.abs(gmh), np.abs(gpq), np.abs(gmq)])
            err = SAFETY * (np.abs(r1 - r2) / 15 + 2 * ROUNDOFF * eps * mag / (H / 4)
                            + eps * scale / (H / 4) * np.abs(r2))
            return r2, err, H / 4
        if step is None:
            h = _clip(np.cbrt(3 * eps * max(mag.max(), 1e-300) / max(d3.max(), 1e-300)),
                      eps ** (1 / 3) * scale * 1e-2, H)
            trunc = h**2 / 6 * d3
        else:
            h, trunc = step, 0.0
        gp, gm = g(h), g(-h)
        val = (gp - gm) / (2 * h)
        mag = np.maximum.reduce([mag, np.abs(gp), np.abs(gm)])
        err = SAFETY * (trunc + ROUNDOFF * eps * mag / h + eps * scale / h * np.abs(val))
        return val, err, h

    def jacobian(self, f, primals):
        """The full Jacobian (outputs flattened by inputs flattened), its error bound and f's
        value: one directional derivative per input entry, O(n) evaluations."""
        primals = [np.asarray(p, float) for p in primals]
        out = as_float64(self._eval(f, primals))
        cols, errs = [], []
        zeros = [np.zeros_like(p) for p in primals]
        for i, p in enumerate(primals):
            for e in basis(p.shape):
                ts = list(zeros)
                ts[i] = e
                est = self.directional(f, primals, ts)
                cols.append(np.ravel(est.value))
                errs.append(np.ravel(est.error))
        shape = (out.size, len(cols))
        J = np.array(cols).T.reshape(shape) if cols else np.zeros(shape)
        E = np.array(errs).T.reshape(shape) if errs else np.zeros(shape)
        return J, E, out

    def gradient(self, f, x, h: float, batched: bool = True):
        """The notes' formula, literally: (f(x + h e_i) - f(x)) / h for i = 1..n, with a fixed
        h, at n + 1 points. With `batched`, the n + 1 points go to f in one call when f maps a
        leading batch axis through (checked by the output's shape and one more evaluation at
        x: n + 2 evaluations in two calls), else one call per point (after the failed batched
        call). Every evaluation is counted, a batch of k points as k (`calls` counts calls)."""
        x = np.asarray(x, self.dtype)
        n = x.size
        points = np.concatenate([x[None], x[None] + h * np.eye(n, dtype=self.dtype)
                                 .reshape((n,) + x.shape)])
        values = None
        if batched:
            try:
                values = np.asarray(self._call(f, points, batch=n + 1), self.dtype)
                if values.shape != (n + 1,) or values[0] != np.asarray(self._call(f, x)):
                    values = None
            except Exception:
                values = None
        if values is None:
            values = np.array([np.asarray(self._call(f, p)) for p in points], dtype=self.dtype)
        return ((values[1:] - values[0]) / h).reshape(x.shape)

    def _call(self, f, arg, batch=1):
        """f(xp, arg), counted: `batch` points are `batch` evaluations in one call."""
        self.calls += 1
        self.evaluations += batch
        return f(xp, arg)

    def error_curve(self, f, primals, tangents, exact, steps, method="forward"):
        """|D(h) - exact| for each step h: the notes' 'choose h' trade-off, measured."""
        out = []
        for h in steps:
            est = self.directional(f, primals, tangents, method=method, step=float(h))
            out.append(float(np.max(np.abs(as_float64(est.value) - as_float64(exact)))))
        return np.array(out)


def _clip(h, lo, hi):
    return float(min(max(h, lo), hi))


def taylor_remainder(f, primals, tangents, jv, steps=None):
    """The tolerance-free verdict: r(h) = |f(x + h v) - f(x) - h J v| falls like h^2 when J v is
    right and like h when it is wrong. Returns the fitted log-log slope and the residuals.

    Steps run from 1e-1 down to 1e-5; the slope is fitted on the four smallest steps whose
    residual stands above roundoff, where the leading term of the remainder dominates.
    """
    steps = np.geomspace(1e-1, 1e-5, 9) if steps is None else np.asarray(steps)
    prim = [np.asarray(p, float) for p in primals]
    f0 = np.asarray(f(xp, *prim), float)
    jv = np.asarray(jv, float)
    res = []
    for h in steps:
        fh = np.asarray(f(xp, *[p + h * np.asarray(v, float) for p, v in zip(prim, tangents)]),
                        float)
        res.append(float(np.max(np.abs(fh - f0 - h * jv))))
    res = np.array(res)
    ok = res > 1e3 * np.finfo(float).eps * (1 + np.max(np.abs(f0)))  # above roundoff
    if ok.sum() < 2:   # f is (numerically) linear along v, and J v reproduces it exactly
        return float("inf"), res
    idx = np.flatnonzero(ok)[-4:]
    slope = np.polyfit(np.log(steps[idx]), np.log(res[idx]), 1)[0]
    return float(slope), res
