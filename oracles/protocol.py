"""The Engine protocol every subject and oracle answers, and the helpers adapters share."""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

Formula = Callable[..., Any]  # f(xp, *arrays)


@runtime_checkable
class Engine(Protocol):
    """What the harness asks of an AD engine. Inputs and outputs are NumPy float64 arrays.

    An engine may leave `jvp` or `vjp` as None (the harness records "unsupported"), and may
    raise `Unsupported` for an op or a size it cannot handle.
    """

    name: str
    xp: Any

    def jvp(self, f: Formula, primals: Sequence[np.ndarray],
            tangents: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]: ...

    def vjp(self, f: Formula, primals: Sequence[np.ndarray],
            cotangent: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]: ...


class Unsupported(Exception):
    """The engine cannot answer this question (missing op, mode or size)."""


class Namespace:
    """An Array-API namespace over a backend module: names in `extra` first, then the
    backend's own; a name neither has raises `Unsupported` (an AttributeError as well)."""

    def __init__(self, name: str, base: Any, extra: dict):
        self._name, self._base, self._extra = name, base, extra

    def __getattr__(self, attr):
        if attr in self._extra:
            return self._extra[attr]
        if not attr.startswith("_") and hasattr(self._base, attr):
            return getattr(self._base, attr)
        raise MissingOp(f"{self._name} has no op '{attr}'")

    def __repr__(self):
        return f"<namespace {self._name}>"


class MissingOp(Unsupported, AttributeError, NotImplementedError):
    pass


def as_float64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def as_float(x) -> np.ndarray:
    """x as a NumPy array of its own precision when that is float32 (a float32 run asks
    engines in float32), else float64. An array already of either type is returned as it is
    (no copy: a million-entry gradient is converted several times per check); code that
    hands it on to be written into makes its own copy."""
    a = np.asarray(x)
    return a if a.dtype == np.float32 or a.dtype == np.float64 else a.astype(np.float64)


def basis(shape) -> list[np.ndarray]:
    n = int(np.prod(shape, dtype=int))
    eye = np.eye(n)
    return [eye[k].reshape(shape) for k in range(n)]


MAX_SWEEPS = 4096   # columns or rows built one at a time before an engine says "unsupported"


def vjp_by_columns(push, primals, cotangent):
    """A VJP from forward mode: `push(tangents) -> (out, out_tangent)` once per input entry
    gives a column of J; the result is J^T u. Costs one JVP per input entry."""
    primals = [as_float(p) for p in primals]
    n = sum(p.size for p in primals)
    if n > MAX_SWEEPS:
        raise Unsupported(f"a VJP by forward mode needs one JVP per input entry: {n} > "
                          f"{MAX_SWEEPS}")
    zeros = [np.zeros_like(p) for p in primals]
    out, bars = None, []
    for i, p in enumerate(primals):
        bar = np.zeros(p.size, p.dtype)
        for k, e in enumerate(basis(p.shape)):
            tangents = list(zeros)
            tangents[i] = e.astype(p.dtype)
            out, col = push(tangents)
            bar[k] = np.sum(as_float(col) * cotangent)
        bars.append(bar.reshape(p.shape))
    if out is None:  # no inputs with entries: one push for the value
        out, _ = push(zeros)
    return as_float(out), tuple(bars)


def jvp_by_rows(out, pull, tangents):
    """A JVP from reverse mode: `pull(y_bar) -> input cotangents` once per output entry gives
    a row of J; the result is J v. Costs one VJP per output entry."""
    out = as_float(out)
    if out.size > MAX_SWEEPS:
        raise Unsupported(f"a JVP by reverse mode needs one VJP per output entry: {out.size} > "
                          f"{MAX_SWEEPS}")
    t_out = np.zeros(out.size, np.result_type(out, *[as_float(t) for t in tangents]))
    for k, e in enumerate(basis(out.shape)):
        bars = pull(e.astype(out.dtype))
        t_out[k] = sum(np.sum(as_float(b) * as_float(t)) for b, t in zip(bars, tangents))
    return out, t_out.reshape(out.shape)
