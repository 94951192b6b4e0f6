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
COMPILE_AFTER = 20      # larger ones: compiled from this many asks of one question on

_NOT_TRACEABLE = (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
                  jax.errors.TracerArrayConversionError, jax.errors.TracerIntegerConversionError)


# XLA's CPU fusion emitters are most of the time of compiling the small programs a run
# compiles: the catalogue's jitted jvp/vjp programs at one input each (152) compiled in 5.9 s
# with them and 3.3 s without, every answer within 2 ulps of the other (one entry 1 ulp
# apart). The options go to this engine's own programs only; a jaxlib that does not know one
# drops that one (`_OPTIONS`). LLVM's optimisation level 0 would compile the default run in
# 10.6 s instead of 15.1 s (cold, both pytest-xdist workers), but JAX's float64 derivatives
# then moved away from the referee's in 229 of the run's 1,485 small questions (closer in
# 134; presumably fewer multiply-adds fused into one rounding), the worst error
# from 50 to 107 epsilons of the answer's largest entry: an oracle's accuracy is worth more
# than a compilation paid once per machine, so it is not used.
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}
_OPTIONS = [dict(COMPILER_OPTIONS)]


def _drop_option(message: str) -> bool:
    """Drop the compile option a jaxlib refused (all of them where its message names none);
    False where there was nothing left to drop."""
    if not _OPTIONS[0]:
        return False
    named = [k for k in _OPTIONS[0] if repr(k) in message or f'"{k}"' in message]
    if named:
        _OPTIONS[0] = {k: v for k, v in _OPTIONS[0].items() if k not in named} or None
    else:
        _OPTIONS[0] = None
    return True


MAX_COMPILED = 1024   # jitted functions kept; each holds XLA executables (LLVM code pages)
MAX_PROGRAMS = 400    # programs between two clearings where /proc/self/maps cannot be read
MAPS_SHARE = 0.5      # ... else cleared once the process holds this share of its map limit
MAPS_EVERY = 32       # new programs between two readings of /proc/self/maps


def _signature(tree):
    """The shapes and dtypes a jitted function is traced for."""
    return tuple((np.shape(x), str(getattr(x, "dtype", type(x).__name__)))
                 for x in jax.tree_util.tree_leaves(tree))


def _put(x):
    """An input as a JAX array, in its own float dtype. `jax.device_put` copies it;
    `jnp.asarray` would compile a program for every new shape and dtype."""
    return jax.device_put(np.asarray(as_float(x)))


def _jit(fn):
    return jax.jit(fn, compiler_options=_OPTIONS[0]) if _OPTIONS[0] else jax.jit(fn)


def _maps_full():
    """Whether this process holds MAPS_SHARE of the memory maps the kernel allows it; None
    where /proc cannot say (not Linux)."""
    try:
        with open("/proc/self/maps", "rb") as fh:
            held = sum(1 for _ in fh)
        try:
            with open("/proc/sys/vm/max_map_count") as fh:
                limit = int(fh.read())
        except (OSError, ValueError):
            limit = 65530
    except OSError:
        return None
    return held >= MAPS_SHARE * limit


def _single(g, kind):
    """The program of one kind of question (large inputs): (p, w) -> what `_run` returns."""
    if kind == "jvp":
        return lambda p, t: jax.jvp(g, p, t)
    if kind == "vjp":
        def vjp(p, c):
            out, back = jax.vjp(g, *p)
            return out, back(c)
        return vjp

    def hvp(p, w):
        u, t = w
        return g(*p), jax.jvp(lambda *q: jax.vjp(g, *q)[1](u), p, t)[1]
    return hvp


def _zeros(tree):
    return jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), tree)


class JaxEngine:
    """Small inputs go through one jitted program per formula and shapes, which answers the
    jvp, the vjp and (in float64, or where asked) the hvp at once (`_program`): a run asks
    for all three at the same points, and one program compiles in half the time of three
    (the catalogue at one input each: 3.3 s against 6.4 s). Eager JAX would compile every
    primitive for every new shape instead (about 20 ms each here; the default run took
    47.6 s from a cold cache eagerly, 32.7 s this way). Formulas whose Python control flow
    looks at values run eagerly.

    Large inputs (over JIT_MAX_SIZE entries) run eagerly until the same question (formula,
    kind and shapes) is asked for the COMPILE_AFTER-th time in the same claim's runs, and
    then through a program of that kind alone (the combined program would do three times
    the work a large question needs). The notes' network's VJP takes 12 ms eagerly, 2 ms
    compiled and 0.25 s to compile: a question asked a few times (the network in the
    default run, twice) is never compiled, one asked again and again (a gradient verified
    at every step of a training loop) costs at most about twice what it would have cost
    compiled from the start. The count, not the time eager JAX spent, decides, and it
    starts again with each claim (`begin`): a compiled program's answers differ from eager
    JAX's in the last bits, and a record must not depend on the machine's speed, on which
    claims ran before it in its process, or on pytest-xdist's placing of claims."""
    name = "jax"
    keeps_inputs = True   # never writes into an input: asked through views
    xp = xp
    version = jax.__version__

    def __init__(self):
        self._compiled = {}
        self._shapes = {}
        self._programs = set()
        self._asks = {}      # large questions: how often each was asked in this claim
        self._claim = None

    def _bound(self, program):
        """Forget every compiled program once the process holds half the memory maps the
        kernel allows it (or past MAX_PROGRAMS programs where that cannot be read): each
        program holds XLA executables, 3 to 47 maps for LLVM's code, and a long thorough run
        (hundreds of inputs whose shapes the domain draws) otherwise exhausts them and XLA
        aborts the whole process. The default run holds about 11,000 maps at its end."""
        if program in self._programs:
            return
        if len(self._programs) % MAPS_EVERY == MAPS_EVERY - 1 or \
                len(self._programs) >= MAX_PROGRAMS:
            full = _maps_full()
            if full or (full is None and len(self._programs) >= MAX_PROGRAMS):
                self.clear()
        self._programs.add(program)

    def clear(self):
        """Forget every compiled program (JAX's caches included)."""
        jax.clear_caches()
        self._compiled.clear()
        self._shapes.clear()
        self._programs.clear()

    def _fn(self, f):
        return lambda *a: f(xp, *a)

    def _jvp(self, g, p, t):
        return jax.jvp(g, p, t)

    def _vjp(self, g, p, c):
        out, back = jax.vjp(g, *p)
        return out, back(c)

    def _hvp(self, g, p, w):
        u, t = w
        return g(*p), jax.jvp(lambda *q: jax.vjp(g, *q)[1](u), p, t)[1]

    @staticmethod
    def _program(g, second):
        """f's value, J v, J^T u and, with `second`, H(u) t at once (forward over reverse
        for the last); XLA shares the forward pass between them."""
        def program(p, v, u, t):
            out, jv = jax.jvp(g, p, v)
            if not second:
                return out, jv, jax.vjp(g, *p)[1](u), None
            bars, hv = jax.jvp(lambda *q: jax.vjp(g, *q)[1](u), p, t)
            return out, jv, bars, hv
        return program

    def _arguments(self, kind, key, g, a, b):
        """(p, v, u, t) for the program: what was asked, zeros for the rest."""
        if kind == "vjp":
            return a, _zeros(a), b, _zeros(a)
        shape_key = (key, _signature(a))
        out = self._shapes.get(shape_key)
        if out is None:
            out = self._shapes[shape_key] = jax.eval_shape(g, *a)
        if kind == "jvp":
            return a, b, _zeros(out), _zeros(a)
        return a, _zeros(a), b[0], b[1]

    def _run(self, kind, f, a, b):
        method = {"jvp": self._jvp, "vjp": self._vjp, "hvp": self._hvp}[kind]
        g = self._fn(f)
        if sum(int(np.size(x)) for x in a) > JIT_MAX_SIZE:
            return self._large(kind, f, g, a, b, method)
        # second order where asked, and at every float64 question (a run asks each float64
        # point for its hvp too; float32 questions are first order only)
        second = kind == "hvp" or all(getattr(x, "dtype", None) == np.float64 for x in a)
        # the claim's own function, not the per-run wrapper `namespace.std` puts around it:
        # a process that runs a claim many times (shrinking, benchmarks) compiles once
        key = (f.__wrapped__ if getattr(f, "_ad_std", False) else f, second)
        if self._compiled.get(key) is False:
            return method(g, a, b)
        try:
            args = self._arguments(kind, key, g, a, b)
            self._bound((key, _signature(args)))
            fn = self._compiled.get(key)
            if fn is None:
                if len(self._compiled) >= MAX_COMPILED:   # bounded: oldest first out
                    del self._compiled[next(iter(self._compiled))]
                fn = self._compiled[key] = _jit(self._program(g, second))
            out, jv, bars, hv = fn(*args)
        except Exception as e:   # noqa: BLE001 - answered eagerly, which raises f's own error
            if "compile option" in str(e) and _drop_option(str(e)):   # a jaxlib without it
                self._compiled.clear()
                return self._run(kind, f, a, b)
            answer = method(g, a, b)
            self._compiled[key] = False   # the eager answer stands where the program failed
            return answer
        return {"jvp": (out, jv), "vjp": (out, bars), "hvp": (out, hv)}[kind]

    def begin(self, claim_id) -> None:
        """The harness starts running a claim: asks of large questions are counted afresh
        (see the class), unless it is the claim that ran last (a benchmark, a loop)."""
        if claim_id != self._claim:
            self._claim = claim_id
            self._asks.clear()

    def _large(self, kind, f, g, a, b, method):
        """A question on large inputs: eagerly, or compiled from its COMPILE_AFTER-th ask
        in the claim's runs (see the class)."""
        key = (f.__wrapped__ if getattr(f, "_ad_std", False) else f, kind, "large")
        fn = self._compiled.get(key)
        question = (key, _signature((a, b)))
        asks = self._asks[question] = self._asks.get(question, 0) + 1
        if fn is False or asks < COMPILE_AFTER:
            return method(g, a, b)
        try:
            self._bound(question)
            if fn is None:
                fn = self._compiled[key] = _jit(_single(g, kind))
            return fn(a, b)
        except Exception:   # noqa: BLE001 - answered eagerly, which raises f's own error
            answer = method(g, a, b)
            self._compiled[key] = False   # the eager answer stands where the program failed
            return answer

    def jvp(self, f, primals, tangents):
        out, t = self._run("jvp", f, tuple(_put(p) for p in primals),
                           tuple(_put(t) for t in tangents))
        return as_float(out), as_float(t)

    def vjp(self, f, primals, cotangent):
        out, bars = self._run("vjp", f, tuple(_put(p) for p in primals), _put(cotangent))
        return as_float(out), tuple(as_float(b) for b in bars)

    def hvp(self, f, primals, cotangent, tangents):
        """Forward over reverse: d/de [J(x + e t)^T u] at e = 0."""
        out, hv = self._run("hvp", f, tuple(_put(q) for q in primals),
                            (_put(cotangent), tuple(_put(t) for t in tangents)))
        return as_float(out), tuple(as_float(h) for h in hv)

    def flops(self, f, primals, mode="forward", wrt=None):
        """XLA's own count (`cost_analysis` of the compiled function)."""
        fn = self._fn(f)
        args = [_put(p) for p in primals]
        if mode != "forward":
            wrt = tuple(range(len(primals))) if wrt is None else tuple(wrt)
            fn = jax.grad(lambda *a: jnp.sum(self._fn(f)(*a)), argnums=wrt)
        cost = jax.jit(fn).lower(*args).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        return {"total": float(cost.get("flops", float("nan")))}
