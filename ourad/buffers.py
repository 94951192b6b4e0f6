"""How elementwise primitives run on concrete values, and the large arrays they reuse.

`unary` and `binary` build a primitive's implementation: Python floats take the `math` path
(a NumPy ufunc on a Python float costs about ten times more), arrays NumPy's, which keeps
dtypes (float32 stays float32) and lets NaN and inf propagate.

Large results are written into buffers kept for reuse. A NumPy array of a few megabytes is
mapped from the system when made and unmapped when freed, and the next one is faulted in
again, page by page: at batch 256 the notes' network pays about 5,000 page faults (several
milliseconds) per gradient that way, more than all of ourad's own work. So ourad keeps the
large arrays its primitives make and hands one out again once nothing else refers to it, as
PyTorch's caching allocator does.

A kept buffer is free when its reference count says that this cache alone holds it; a view
of it holds its base, so a buffer stays busy while any view of it, any tape entry or any
caller's variable refers to it. Primitives write into a buffer with NumPy's `out=`, so the
values are exactly those of the plain call. Only arrays of `MIN_BYTES` or more are kept,
`MAX_BYTES` at most in all; `clear()` forgets them. Where reference counts cannot be
trusted (an interpreter without `sys.getrefcount`, or without the GIL) nothing is kept.
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["unary", "binary", "take", "out_for", "matmul_out", "clear", "MIN_BYTES", "MAX_BYTES"]

MIN_BYTES = 1 << 18     # smaller arrays come quickly from malloc's own free lists
MAX_BYTES = 1 << 27     # 128 MiB kept at most

_refcount = getattr(sys, "getrefcount", None)
_enabled = _refcount is not None and getattr(sys, "_is_gil_enabled", lambda: True)()
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))

_kept: dict = {}        # (shape, dtype) -> the buffers of that kind
_held = [0]             # bytes kept


def unary(math_fn, np_fn, into=None):
    """The implementation of a one-input elementwise primitive: `math_fn` on a Python float,
    `np_fn` on arrays; `into(x, out=)` (the ufunc itself by default) writes a large result
    into a kept buffer."""
    into = into or (np_fn if isinstance(np_fn, np.ufunc) else None)

    def impl(x):
        if type(x) is float:
            try:
                return math_fn(x)
            except (ValueError, OverflowError):
                pass
            with np.errstate(all="ignore"):
                return float(np_fn(x))
        if into is not None and type(x) is np.ndarray and x.nbytes >= MIN_BYTES:
            return into(x, out=out_for(x))
        return np_fn(x)
    impl.__name__ = np_fn.__name__
    return impl


def binary(op, np_fn):
    """The implementation of a two-input elementwise primitive: `op` on two Python floats,
    the ufunc `np_fn` on anything else, into a kept buffer where the result is large, or into
    `out` where the caller gives an array of the result's shape and dtype that nothing else
    holds (a rule overwriting a temporary of its own)."""
    def impl(a, b, out=None):
        if type(a) is float and type(b) is float:
            try:
                r = op(a, b)
                if type(r) is float:
                    return r
            except (ZeroDivisionError, OverflowError, ValueError):
                pass
            with np.errstate(all="ignore"):
                return float(np_fn(a, b))
        if out is not None:
            return np_fn(a, b, out=out)
        if type(a) is np.ndarray and a.nbytes >= MIN_BYTES or \
                type(b) is np.ndarray and b.nbytes >= MIN_BYTES:
            return np_fn(a, b, out=out_for(a, b))
        return np_fn(a, b)
    impl.__name__ = np_fn.__name__
    return impl


def take(shape: tuple, dtype) -> np.ndarray:
    """An array of `shape` and `dtype` that nothing else refers to, its contents arbitrary."""
    buffers = _kept.get((shape, dtype))
    if buffers is not None:
        for buf in buffers:
            if _refcount(buf) == 3:   # the list, `buf` and the argument: nobody else
                return buf
    buf = np.empty(shape, dtype)
    if _enabled and buf.nbytes >= MIN_BYTES:
        if _held[0] + buf.nbytes > MAX_BYTES:
            clear()
        if _held[0] + buf.nbytes <= MAX_BYTES:
            _kept.setdefault((shape, dtype), []).append(buf)
            _held[0] += buf.nbytes
    return buf


def out_for(a, b=None):
    """A free buffer for the result of an elementwise op on `a` (and `b`), or None where the
    result is small, not floating point, or of a kind this cache leaves to NumPy (mixed
    dtypes, Python ints)."""
    if type(a) is np.ndarray:
        dtype, shape = a.dtype, a.shape
        if type(b) is np.ndarray:
            if b.dtype != dtype:
                return None
            if b.shape != shape:
                try:
                    shape = np.broadcast_shapes(shape, b.shape)
                except ValueError:
                    return None   # NumPy's own call raises the error
        elif b is not None and type(b) is not float:
            return None
    elif type(b) is np.ndarray and type(a) is float:
        dtype, shape = b.dtype, b.shape
    else:
        return None
    if dtype not in _FLOATS or dtype.itemsize * _size(shape) < MIN_BYTES or not _enabled:
        return None
    return take(shape, dtype)


def matmul_out(a, b):
    """A free buffer for `a @ b` where both are matrices of one floating dtype, else None."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim != 2 or \
            b.ndim != 2 or a.dtype != b.dtype or a.dtype not in _FLOATS or \
            a.shape[1] != b.shape[0] or not _enabled:
        return None
    shape = (a.shape[0], b.shape[1])
    if a.dtype.itemsize * shape[0] * shape[1] < MIN_BYTES:
        return None
    return take(shape, a.dtype)


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def clear() -> None:
    """Forget every kept buffer: the free ones are freed, the busy ones stay with their
    holders until those let go."""
    _kept.clear()
    _held[0] = 0
