"""JAX as an oracle: `jax.jvp` / `jax.vjp` in float64, `jax.numpy` as the namespace."""
from __future__ import annotations

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

from .protocol import Namespace, as_float64  # noqa: E402

xp = Namespace("jax", jnp, {
    "pow": jnp.power,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "softmax": lambda x, axis=-1: jax.nn.softmax(x, axis=axis),
    "logsumexp": lambda x, axis=None, keepdims=False:
        jax.scipy.special.logsumexp(x, axis=axis, keepdims=keepdims),
    "getitem": lambda x, idx: x[idx],
    "stop_gradient": jax.lax.stop_gradient,
    "asarray": lambda x, dtype=None: jnp.asarray(x, dtype=dtype),
})


class JaxEngine:
    name = "jax"
    xp = xp
    version = jax.__version__

    def _fn(self, f):
        return lambda *a: f(xp, *a)

    def jvp(self, f, primals, tangents):
        out, t = jax.jvp(self._fn(f), tuple(jnp.asarray(as_float64(p)) for p in primals),
                         tuple(jnp.asarray(as_float64(t)) for t in tangents))
        return as_float64(out), as_float64(t)

    def vjp(self, f, primals, cotangent):
        out, back = jax.vjp(self._fn(f), *[jnp.asarray(as_float64(p)) for p in primals])
        bars = back(jnp.asarray(as_float64(cotangent)))
        return as_float64(out), tuple(as_float64(b) for b in bars)

    def flops(self, f, primals, mode="forward", wrt=None):
        """XLA's own count (`cost_analysis` of the compiled function)."""
        fn = self._fn(f)
        args = [jnp.asarray(as_float64(p)) for p in primals]
        if mode != "forward":
            wrt = tuple(range(len(primals))) if wrt is None else tuple(wrt)
            fn = jax.grad(lambda *a: jnp.sum(self._fn(f)(*a)), argnums=wrt)
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return {"total": float(cost.get("flops", float("nan")))}
