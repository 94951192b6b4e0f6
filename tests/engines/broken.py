"""Engines that misbehave the way real adapters and student engines do, one behaviour each.
The conformance run must give each the verdict tests/test_broken_subjects.py states."""
import sys
import time

import numpy as np
import torch

import ourad
from oracles.ourad_engines import OuradReverse

_right = OuradReverse()


class Base:
    xp = ourad.xp

    def jvp(self, f, primals, tangents):
        return _right.jvp(f, primals, tangents)

    def vjp(self, f, primals, cotangent):
        return _right.vjp(f, primals, cotangent)


class Right(Base):
    """Right in every mode the protocol has, the optional second order included."""
    name = "right"

    def hvp(self, f, primals, cotangent, tangents):
        return _right.hvp(f, primals, cotangent, tangents)


class TypoInJvp(Base):
    name = "typo-in-jvp"

    def jvp(self, f, primals, tangents):
        return _right.jvp(f, primals, [t.tanget for t in tangents])


class ReturnsNone(Base):
    name = "returns-none"

    def vjp(self, f, primals, cotangent):
        return None


class PairWithNone(Base):
    name = "pair-with-none"

    def jvp(self, f, primals, tangents):
        return _right.jvp(f, primals, tangents)[0], None


class TorchRequiresGrad(Base):
    name = "torch-requires-grad"

    def vjp(self, f, primals, cotangent):
        out, bars = _right.vjp(f, primals, cotangent)
        return (torch.tensor(out, requires_grad=True),
                tuple(torch.tensor(b, requires_grad=True) * 1.0 for b in bars))


class WrongTangentShape(Base):
    name = "wrong-tangent-shape"

    def jvp(self, f, primals, tangents):
        out, t = _right.jvp(f, primals, tangents)
        return out, np.array([t, t])


class TooFewCotangents(Base):
    name = "too-few-cotangents"

    def vjp(self, f, primals, cotangent):
        out, bars = _right.vjp(f, primals, cotangent)
        return out, bars[:-1]


class NaNOnOneHot(Base):
    """NaN only when the tangent is a unit vector: right along random directions."""
    name = "nan-on-one-hot"

    def jvp(self, f, primals, tangents):
        out, t = _right.jvp(f, primals, tangents)
        flat = np.concatenate([np.ravel(v) for v in tangents])
        if np.count_nonzero(flat) == 1:
            t = np.full_like(np.asarray(t, float), np.nan)
        return out, t


class WrongPrimal(Base):
    name = "wrong-primal"

    def jvp(self, f, primals, tangents):
        out, t = _right.jvp(f, primals, tangents)
        return out + 1.0, t

    def vjp(self, f, primals, cotangent):
        out, bars = _right.vjp(f, primals, cotangent)
        return out + 1.0, bars


class Exits(Base):
    name = "exits"

    def vjp(self, f, primals, cotangent):
        sys.exit(0)


class Hangs(Base):
    name = "hangs"

    def jvp(self, f, primals, tangents):
        time.sleep(3600)


class NegatedVjp(Base):
    name = "negated-vjp"

    def vjp(self, f, primals, cotangent):
        out, bars = _right.vjp(f, primals, cotangent)
        return out, tuple(-b for b in bars)


class NoModes:
    name = "no-modes"
    xp = ourad.xp
    jvp = None
    vjp = None


class NoXp(Base):
    name = "no-xp"
    xp = None


class NoName(Base):
    name = None


class Unsupporting(Base):
    """Declares nothing it can do: every call raises NotImplementedError."""
    name = "unsupporting"

    def jvp(self, f, primals, tangents):
        raise NotImplementedError("not yet")

    def vjp(self, f, primals, cotangent):
        raise NotImplementedError("not yet")


class LacksSin(Base):
    """A namespace without sin: the claims that use it are unsupported, the rest run."""
    name = "lacks-sin"

    class _Xp:
        def __getattr__(self, name):
            if name == "sin":
                raise AttributeError(name)
            return getattr(ourad.xp, name)
    xp = _Xp()

    def jvp(self, f, primals, tangents):
        return ourad.jvp(lambda *a: f(self.xp, *a), primals, tangents)


class WrongAboveOne(Base):
    """Right wherever every input lies in [-1, 1]; beyond, both modes double the derivative:
    a defect that only some inputs show, for shrinking to find the simplest of."""
    name = "wrong-above-one"

    def jvp(self, f, primals, tangents):
        out, t = _right.jvp(f, primals, tangents)
        return out, t * 2.0 if _beyond(primals) else t

    def vjp(self, f, primals, cotangent):
        out, bars = _right.vjp(f, primals, cotangent)
        return out, tuple(b * 2.0 if _beyond(primals) else b for b in bars)


def _beyond(primals) -> bool:
    return any(np.any(np.abs(np.asarray(p, float)) > 1.0) for p in primals)


class WrongOnce(Base):
    """Wrong at its first JVP only, right ever after: a failure that does not recur when
    checked again, which shrinking must not report as shrunk."""
    name = "wrong-once"

    def __init__(self):
        self.calls = 0

    def jvp(self, f, primals, tangents):
        self.calls += 1
        out, t = _right.jvp(f, primals, tangents)
        return out, t * 2.0 if self.calls == 1 else t


class WritesIntoItsInputs(Base):
    """Right answers, then scales the primals it was handed in place (the input every
    engine after it would see)."""
    name = "writes-into-its-inputs"

    def jvp(self, f, primals, tangents):
        res = _right.jvp(f, primals, tangents)
        for p in primals:
            p *= 1.5
        return res

    def vjp(self, f, primals, cotangent):
        res = _right.vjp(f, primals, cotangent)
        for p in primals:
            p *= 1.5
        return res


class WritesPastTheFlag(Base):
    """Right answers, then scales the primals it was handed in place past their read-only
    flag: it clears the flag on the array it got, or on the array that one views (as
    `torch.from_numpy` writes whatever the flag says)."""
    name = "writes-past-the-flag"
    keeps_inputs = True   # says it leaves its inputs alone: a subject is not taken at its word

    @staticmethod
    def _scale(primals):
        for p in primals:
            a = p
            while isinstance(a.base, np.ndarray):
                a = a.base
            a.setflags(write=True)
            a *= 1.5

    def jvp(self, f, primals, tangents):
        res = _right.jvp(f, primals, tangents)
        self._scale(primals)
        return res

    def vjp(self, f, primals, cotangent):
        res = _right.vjp(f, primals, cotangent)
        self._scale(primals)
        return res


class ChangesGlobalState(Base):
    """Right answers, but each call leaves NumPy raising on every floating-point error,
    JAX's float64 switch off and mpmath at 3 digits (as an engine that sets them for itself
    would)."""
    name = "changes-global-state"

    def _leave(self):
        np.seterr(all="raise")
        jax = sys.modules.get("jax")
        if jax is not None:
            jax.config.update("jax_enable_x64", False)
        mpmath = sys.modules.get("mpmath")
        if mpmath is not None:
            mpmath.mp.dps = 3

    def jvp(self, f, primals, tangents):
        res = _right.jvp(f, primals, tangents)
        self._leave()
        return res

    def vjp(self, f, primals, cotangent):
        res = _right.vjp(f, primals, cotangent)
        self._leave()
        return res


class ExitsTheProcess(Base):
    """Ends the process from inside its VJP with status 0 (no report, the gate never
    runs)."""
    name = "exits-the-process"

    def vjp(self, f, primals, cotangent):
        import os
        os._exit(0)


class CrashesTheProcess(Base):
    """Right answers, but its VJP of a function of two inputs kills its process with
    SIGSEGV, as a C extension's crash would (under pytest-xdist the worker dies)."""
    name = "crashes-the-process"

    def vjp(self, f, primals, cotangent):
        if len(primals) == 2:
            import os
            import signal
            os.kill(os.getpid(), signal.SIGSEGV)
        return _right.vjp(f, primals, cotangent)


class PrintsAVerdict(Base):
    """Right answers, and prints a verdict of its own at every call, through Python and
    straight to file descriptor 1."""
    name = "prints-a-verdict"

    def vjp(self, f, primals, cotangent):
        import os
        print("engine says: gate: PASS")
        os.write(1, b"engine writes: gate: PASS\n")
        return _right.vjp(f, primals, cotangent)


class ChangesDirectory(Base):
    """Right answers, but its VJP moves the process into a directory of its own (a library
    that changes directory for its work and never comes back)."""
    name = "changes-directory"

    def vjp(self, f, primals, cotangent):
        import os
        os.makedirs("elsewhere", exist_ok=True)
        if os.path.basename(os.getcwd()) != "elsewhere":
            os.chdir("elsewhere")
        return _right.vjp(f, primals, cotangent)
