"""ourad's two modes as engines: each answers both questions, the mode it lacks being built
from the one it has (a column or a row of the Jacobian at a time)."""
from __future__ import annotations

import numpy as np

import ourad

from .protocol import as_float, jvp_by_rows, vjp_by_columns


def ourad_hvp(f, primals, cotangent, tangents):
    u = np.asarray(as_float(cotangent))

    def grad_along_u(*p):
        return ourad.vjp(lambda *a: f(ourad.xp, *a), *p)[1](u)
    out = f(ourad.xp, *primals)
    _, hv = ourad.jvp(grad_along_u, [np.asarray(p, float) for p in primals],
                      [np.asarray(t, float) for t in tangents])
    return as_float(out), tuple(as_float(h) for h in hv)


class OuradForward:
    """Forward mode only: a VJP costs one JVP per input entry."""
    name = "ourad-forward"
    xp = ourad.xp
    native_modes = ("jvp",)     # the VJP is built from JVPs

    def jvp(self, f, primals, tangents):
        out, t = ourad.jvp(lambda *a: f(ourad.xp, *a), primals, tangents)
        return as_float(out), as_float(t)

    def vjp(self, f, primals, cotangent):
        return vjp_by_columns(lambda ts: self.jvp(f, primals, ts), primals,
                              as_float(cotangent))

    def hvp(self, f, primals, cotangent, tangents):
        """Forward over reverse with ourad's own transforms: d/de [J(x + e t)^T u]."""
        return ourad_hvp(f, primals, cotangent, tangents)

    def flops(self, f, primals, mode="forward"):
        with ourad.count_flops() as c:
            if mode == "forward":
                f(ourad.xp, *primals)
            else:
                self.jvp(f, primals, [np.ones_like(p) for p in primals])
        return dict(c.by_primitive)


class OuradReverse:
    """Reverse mode only: a JVP costs one VJP per output entry."""
    name = "ourad-reverse"
    xp = ourad.xp
    native_modes = ("vjp",)     # the JVP is built from VJPs

    def vjp(self, f, primals, cotangent):
        out, back = ourad.vjp(lambda *a: f(ourad.xp, *a), *primals)
        return as_float(out), tuple(as_float(b) for b in back(cotangent))

    def jvp(self, f, primals, tangents):
        out, back = ourad.vjp(lambda *a: f(ourad.xp, *a), *primals)
        return jvp_by_rows(out, back, tangents)

    def hvp(self, f, primals, cotangent, tangents):
        """Forward over reverse with ourad's own transforms: d/de [J(x + e t)^T u]."""
        return ourad_hvp(f, primals, cotangent, tangents)

    def flops(self, f, primals, mode="forward", wrt=None):
        wrt = range(len(primals)) if wrt is None else wrt
        with ourad.count_flops() as c:
            if mode == "forward":
                f(ourad.xp, *primals)
            else:
                def g(*sel):
                    full = list(primals)
                    for i, s in zip(wrt, sel):
                        full[i] = s
                    return f(ourad.xp, *full)
                out, back = ourad.vjp(g, *[primals[i] for i in wrt])
                back(np.ones_like(out))
        return dict(c.by_primitive)
