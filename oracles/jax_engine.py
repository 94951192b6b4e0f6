"""JAX as an oracle: `jax.jvp` / `jax.vjp` in float64, `jax.numpy` as the namespace."""
from __future__ import annotations

import os

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)


def _persistent_cache():
    """Compiled jvp/vjp functions persist on disk (JAX's persistent compilation cache, every
    program however small or quick to compile), so pytest-xdist's workers, the many short
    runs of a test suite and a developer's next run load them instead of compiling the same
    formula at the same shapes again. The directory is `$AD_JAX_CACHE`, else
    `$XDG_CACHE_HOME/ourad-harness/jax` (`~/.cache/...`); `AD_JAX_CACHE=` (empty) turns it
    off, and so does a directory that cannot be created or written (a read-only home): the
    run then compiles as without it. A cache set by the user's own JAX configuration is
    left as it is. An entry is XLA's executable for the same program, so results never
    depend on it."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".cache")
    path = os.environ.get("AD_JAX_CACHE", os.path.join(base, "ourad-harness", "jax"))
    if not path or jax.config.jax_compilation_cache_dir:
        return
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return
    if os.access(path, os.W_OK | os.X_OK):
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_persistent_cache()

import jax.numpy as jnp  # noqa: E402

from .protocol import Namespace, as_float  # noqa: E402

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


JIT_MAX_SIZE = 10_000   # inputs up to this many entries: one compiled jvp/vjp per shape

_NOT_TRACEABLE = (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
                  jax.errors.TracerArrayConversionError, jax.errors.TracerIntegerConversionError)


MAX_COMPILED = 1024   # jitted functions kept; each holds XLA executables (LLVM code pages)
MAX_PROGRAMS = 400    # compiled (function, shapes) programs before every cache is cleared


def _signature(tree):
    """The shapes and dtypes a jitted function is traced for."""
    return tuple((np.shape(x), str(getattr(x, "dtype", type(x).__name__)))
                 for x in jax.tree_util.tree_leaves(tree))


class JaxEngine:
    """Small inputs go through one `jax.jit` of the whole jvp or vjp per formula and shape:
    eager JAX compiles every primitive for every new shape (about 20 ms each here), which
    made it the slowest part of a conformance run. Large inputs, and formulas whose Python
    control flow looks at values, run eagerly."""
    name = "jax"
    xp = xp
    version = jax.__version__

    def __init__(self):
        self._compiled = {}
        self._programs = set()

    def _bound(self, program):
        """Forget every compiled program past MAX_PROGRAMS of them: each holds XLA
        executables, and a long thorough run (hundreds of inputs whose shapes the domain
        draws) otherwise exhausts the process's memory maps for LLVM's code and XLA aborts
        the whole process."""
        if program in self._programs:
            return
        if len(self._programs) >= MAX_PROGRAMS:
            jax.clear_caches()
            self._compiled.clear()
            self._programs.clear()
        self._programs.add(program)

    def _fn(self, f):
        return lambda *a: f(xp, *a)

    def _jvp(self, g, p, t):
        return jax.jvp(g, p, t)

    def _vjp(self, g, p, c):
        out, back = jax.vjp(g, *p)
        return out, back(c)

    def _hvp(self, g, p, w):
        u, t = w
        return jax.jvp(lambda *q: jax.vjp(g, *q)[1](u), p, t)

    def _run(self, kind, f, a, b):
        method = {"jvp": self._jvp, "vjp": self._vjp, "hvp": self._hvp}[kind]
        g = self._fn(f)
        if sum(int(np.size(x)) for x in a) <= JIT_MAX_SIZE:
            # the claim's own function, not the per-run wrapper `namespace.std` puts around
            # it: a process that runs a claim many times (shrinking, benchmarks) compiles once
            key = (kind, f.__wrapped__ if getattr(f, "_ad_std", False) else f)
            self._bound((key, _signature(a), _signature(b)))
            fn = self._compiled.get(key)
            if fn is None:
                if len(self._compiled) >= MAX_COMPILED:   # bounded: oldest first out
                    del self._compiled[next(iter(self._compiled))]
                fn = self._compiled[key] = jax.jit(lambda p, w: method(g, p, w))
            if fn is not False:
                try:
                    return fn(a, b)
                except _NOT_TRACEABLE:
                    self._compiled[key] = False
        return method(g, a, b)

    def jvp(self, f, primals, tangents):
        out, t = self._run("jvp", f, tuple(jnp.asarray(as_float(p)) for p in primals),
                           tuple(jnp.asarray(as_float(t)) for t in tangents))
        return as_float(out), as_float(t)

    def vjp(self, f, primals, cotangent):
        out, bars = self._run("vjp", f, tuple(jnp.asarray(as_float(p)) for p in primals),
                              jnp.asarray(as_float(cotangent)))
        return as_float(out), tuple(as_float(b) for b in bars)

    def hvp(self, f, primals, cotangent, tangents):
        """Forward over reverse: d/de [J(x + e t)^T u] at e = 0."""
        p = tuple(jnp.asarray(as_float(q)) for q in primals)
        out_bars, hv = self._run("hvp", f, p, (jnp.asarray(as_float(cotangent)),
                                              tuple(jnp.asarray(as_float(t))
                                                    for t in tangents)))
        return as_float(self._fn(f)(*p)), tuple(as_float(h) for h in hv)

    def flops(self, f, primals, mode="forward", wrt=None):
        """XLA's own count (`cost_analysis` of the compiled function)."""
        fn = self._fn(f)
        args = [jnp.asarray(as_float(p)) for p in primals]
        if mode != "forward":
            wrt = tuple(range(len(primals))) if wrt is None else tuple(wrt)
            fn = jax.grad(lambda *a: jnp.sum(self._fn(f)(*a)), argnums=wrt)
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return {"total": float(cost.get("flops", float("nan")))}
