"""PyTorch as an oracle: `torch.func.jvp` / `torch.func.vjp` in float64, with a namespace
that gives torch's functions their Array-API names and accepts NumPy constants."""
from __future__ import annotations

import numpy as np
import torch
import torch.func

from .protocol import Namespace, as_float


def _t(x):
    if torch.is_tensor(x):
        return x
    a = np.asarray(x)
    return torch.as_tensor(a if a.dtype.kind in "bi" else a.astype(np.float64))


def _arg(x):
    """A primal, tangent or cotangent: float32 stays float32 (a float32 question), the rest
    float64; a claim's own constants go through `_t` (float64) as always. A copy: the
    tensor never shares the harness's array."""
    return torch.tensor(as_float(x))


def _np(t):
    """An answer as an array. `numpy(force=True)`: an answer may be one of PyTorch's
    ZeroTensors (the Hessian-vector product of abs at 0), which plain conversion refuses."""
    return as_float(t.detach().numpy(force=True))


def _each(fn):
    return lambda *args: fn(*(_t(a) for a in args))


def _dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


_extra = {name: _each(getattr(torch, name)) for name in [
    "sin", "cos", "exp", "log", "log1p", "tanh", "sigmoid", "sqrt", "abs", "sign", "relu",
    "maximum", "minimum", "where", "matmul", "add", "subtract", "multiply", "divide",
    "negative", "pow", "square"]}
_extra.update({
    "sum": lambda x, axis=None, keepdims=False: torch.sum(_t(x), dim=_dims(_t(x), axis),
                                                          keepdim=keepdims),
    "mean": lambda x, axis=None, keepdims=False: torch.mean(_t(x), dim=_dims(_t(x), axis),
                                                            keepdim=keepdims),
    "max": lambda x, axis=None, keepdims=False: torch.amax(_t(x), dim=_dims(_t(x), axis),
                                                           keepdim=keepdims),
    "reshape": lambda x, shape: torch.reshape(_t(x), tuple(shape)),
    "broadcast_to": lambda x, shape: torch.broadcast_to(_t(x), tuple(shape)),
    "permute_dims": lambda x, axes: torch.permute(_t(x), tuple(axes)),
    "matrix_transpose": lambda x: _t(x).mT,
    "expand_dims": lambda x, axis=0: torch.unsqueeze(_t(x), axis),
    "concatenate": lambda xs, axis=0: torch.cat([_t(x) for x in xs], dim=axis),
    "stack": lambda xs, axis=0: torch.stack([_t(x) for x in xs], dim=axis),
    "getitem": lambda x, idx: _t(x)[idx],
    "softmax": lambda x, axis=-1: torch.softmax(_t(x), dim=axis),
    "logsumexp": lambda x, axis=None, keepdims=False:
        torch.logsumexp(_t(x), dim=_dims(_t(x), axis), keepdim=keepdims),
    "stop_gradient": lambda x: _t(x).detach(),
    "asarray": lambda x, dtype=None: _t(x),
    "zeros_like": lambda x: torch.zeros_like(_t(x)),
    "ones_like": lambda x: torch.ones_like(_t(x)),
    "float64": torch.float64, "float32": torch.float32,
    "pi": np.pi, "e": np.e, "inf": np.inf, "nan": np.nan,
})
xp = Namespace("torch", torch, _extra)


class TorchEngine:
    name = "torch"
    keeps_inputs = True   # never writes into an input: asked through views
    xp = xp
    version = torch.__version__

    def _fn(self, f):
        return lambda *a: _t(f(xp, *a))

    def jvp(self, f, primals, tangents):
        out, t = torch.func.jvp(self._fn(f), tuple(_arg(p) for p in primals),
                                tuple(_arg(t) for t in tangents))
        return _np(out), _np(t)

    def vjp(self, f, primals, cotangent):
        out, back = torch.func.vjp(self._fn(f), *[_arg(p) for p in primals])
        bars = back(_arg(cotangent))
        return _np(out), tuple(map(_np, bars))

    def hvp(self, f, primals, cotangent, tangents):
        """Forward over reverse: d/de [J(x + e t)^T u] at e = 0."""
        g, u = self._fn(f), _arg(cotangent)
        p = tuple(_arg(q) for q in primals)
        _, hv = torch.func.jvp(lambda *q: torch.func.vjp(g, *q)[1](u), p,
                               tuple(_arg(t) for t in tangents))
        return _np(g(*p)), tuple(map(_np, hv))

    def flops(self, f, primals, mode="forward", wrt=None):
        """torch's FlopCounterMode (it counts matrix products, not elementwise work)."""
        from torch.utils.flop_counter import FlopCounterMode
        wrt = range(len(primals)) if wrt is None else wrt
        args = [_arg(p).requires_grad_(i in wrt) for i, p in enumerate(primals)]
        with FlopCounterMode(display=False) as counter:
            out = self._fn(f)(*args)
            if mode != "forward":
                torch.autograd.grad(out.sum(), [args[i] for i in wrt])
        return {"total": float(counter.get_total_flops())}
