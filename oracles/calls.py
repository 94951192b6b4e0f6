"""Calling an engine: what counts as "unsupported", what is a defect, the time limit, and the
checks every answer passes before anything compares it.

Only four things mean "unsupported": `Unsupported`, `NotImplementedError`, a mode the engine
declares absent (None or missing), and a name its namespace lacks, detected where the name is
looked up (`oracles.namespace` raises `MissingOp` there). Every other exception raised inside
an engine call -- `SystemExit` and `AttributeError` included -- is the engine's answer, and a
wrong one. A user's Ctrl-C still stops the run.

The time limit uses the mechanism of pytest-timeout's "signal" method (SIGALRM through
`signal.setitimer`), per call rather than per test, so that a hanging call costs one record
and not the claim's others; a watchdog thread (`_Watchdog`) ends a Python-level hang the
signal cannot (an engine that disarmed it, a call outside the main thread).
"""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .protocol import MissingOp, Unsupported

_HERE = str(Path(__file__).resolve().parent)


class TimedOut(BaseException):
    """Raised inside an engine call past its time limit (a BaseException, so that an engine's
    own `except Exception` cannot swallow it)."""


class Malformed(Exception):
    """An engine's answer that is not of the protocol's form."""


@dataclass
class Fault:
    kind: str            # "unsupported", "defect" (raised, timed out) or "malformed"
    message: str

    @property
    def category(self) -> str:
        return "unsupported" if self.kind == "unsupported" else "subject-defect"


def has_mode(engine, mode: str) -> bool:
    return callable(getattr(engine, mode, None))


def describe(exc: BaseException, skip_harness: bool = True) -> str:
    """The exception's own type and message first, then where the engine raised it (the
    innermost frame outside the harness)."""
    msg = str(exc).strip().splitlines()
    head = f"{type(exc).__name__}: {msg[0]}" if msg else type(exc).__name__
    if len(msg) > 1:
        head += " " + " ".join(line.strip() for line in msg[1:4] if line.strip())
    frames = traceback.extract_tb(exc.__traceback__)
    if skip_harness:
        frames = [fr for fr in frames if not fr.filename.startswith(_HERE)] or frames
    if frames:
        fr = frames[-1]
        head += f"\n  raised at {fr.filename}:{fr.lineno} in {fr.name}"
        if fr.line:
            head += f": {fr.line.strip()}"
    return head


def _alarm(signum, frame):
    raise TimedOut()


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _async_raise(ident: int, exc) -> None:
    """Raises `exc` in thread `ident` at its next Python instruction (None: takes back one
    not raised yet)."""
    import ctypes
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), None if exc is None else ctypes.py_object(exc))


class _Watchdog:
    """The time limit's second line. SIGALRM is the first, but an engine can disarm the
    timer (`setitimer(ITIMER_REAL, 0)`) or replace or ignore the signal's handler, and its
    hanging call then ran for ever, whatever `--ad-timeout` said; SIGALRM cannot reach a
    call outside the main thread either. One daemon thread per process looks at the call in
    progress five times a second; a call still running a second (or half its limit, if more)
    past its limit gets TimedOut raised in its thread at its next Python instruction. A call
    that never comes back to Python (a loop in C with the signal disarmed) is beyond it."""
    GRACE = 1.0

    def __init__(self):
        self.lock = threading.Lock()
        self.deadlines: dict = {}   # thread -> deadline of its call in progress
        self.fired: set = set()     # threads it raised in, until their calls end
        self.thread = None

    def start(self, timeout: float) -> None:
        with self.lock:
            self.deadlines[threading.get_ident()] = \
                time.monotonic() + timeout + max(self.GRACE, timeout / 2)
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._watch, name="ad-harness-timeout",
                                           daemon=True)
            self.thread.start()

    def stop(self) -> None:
        """The call of this thread ended: no deadline, and an exception raised too late to
        land in the engine is taken back if it has not landed yet (where it has, in the
        harness's own code, `call` catches it: `_Restore`)."""
        me = threading.get_ident()
        with self.lock:
            self.deadlines.pop(me, None)
            if me in self.fired:
                self.fired.discard(me)
                _async_raise(me, None)

    def _watch(self) -> None:
        while True:
            time.sleep(0.2)
            with self.lock:
                now = time.monotonic()
                for ident in [i for i, d in self.deadlines.items() if now > d]:
                    del self.deadlines[ident]
                    self.fired.add(ident)
                    _async_raise(ident, TimedOut)


_WATCHDOG = _Watchdog()


def call(fn, *args, timeout: float | None = None, private: bool = True):
    """Run one engine call: (result, None) or (None, Fault). Arrays among `args` (alone or
    in lists and tuples) are handed over as read-only copies (`frozen`). What the harness's
    own arithmetic depends on is as it was after the call, whatever the engine set: NumPy's
    floating-point error handling (`np.seterr(all="raise")` in an engine made the harness's
    checks raise), JAX's float64 switch and mpmath's precision (`_restore_state`). A process
    the engine forks that comes back here, returning or raising (`sys.exit` too), ends
    (`_end_child`): it never runs the harness on. `private=False` hands over read-only views
    instead of copies, for the harness's own oracles (`keeps_inputs`)."""
    restore = _Restore(timeout)
    try:
        return _call(restore, fn, args, timeout, private)
    except TimedOut:   # the watchdog's, landed in `_call`'s own cleanup: past its limit still
        restore.undo()
        return None, Fault("defect", f"timed out after {timeout:g} s")


class _Restore:
    """What a call changes in the process, put back by `undo`, which may run twice (the
    watchdog's exception can land in the middle of the first)."""

    def __init__(self, timeout):
        self.watch = bool(timeout) and sys.implementation.name == "cpython"
        self.state = np.geterr(), _x64(), _mp_prec()
        self.before_exit = os._exit
        self.entry = (os.getpid(), threading.get_ident())
        self.old = None

    def undo(self) -> None:
        if self.watch:
            _WATCHDOG.stop()
        if self.old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
            self.old = None
        os._exit = self.before_exit
        if self.entry in _IN_CALL:
            _IN_CALL.remove(self.entry)
        _restore_state(self.state)


def _call(restore: _Restore, fn, args, timeout, private):
    pid = os.getpid()
    try:
        _IN_CALL.append(restore.entry)
        os._exit = _engine_exit   # an engine ending the process would end the run, status 0
        if restore.watch:
            _WATCHDOG.start(timeout)
        if bool(timeout) and _can_alarm():
            restore.old = signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = fn(*frozen(args, private))
        except BaseException as exc:
            if os.getpid() != pid:
                _end_child(exc)
            raise
        if os.getpid() != pid:
            _end_child(None)
        return result, None
    except KeyboardInterrupt:
        raise
    except TimedOut:
        return None, Fault("defect", f"timed out after {timeout:g} s")
    except (Unsupported, NotImplementedError) as exc:
        return None, Fault("unsupported", f"{type(exc).__name__}: {exc}")
    except BaseException as exc:  # noqa: BLE001 -- SystemExit too: the engine's answer
        return None, Fault("defect", describe(exc))
    finally:
        restore.undo()


_os_exit = os._exit
_IN_CALL: list = []   # (process, thread) of the engine call in progress
_GUARDED: list = []   # the process whose every os._exit(0) is guarded (`guard_exit`)


class EngineExit(BaseException):
    """An engine called os._exit, which would have ended the run (no report, status 0). A
    BaseException, so that an engine's own `except Exception` does not swallow it."""


def _engine_exit(status=0):
    """os._exit in a process of the run: in the thread of an engine call in progress, an
    error of that call; in a process the engine forked, the real exit (the child ends as it
    meant to); with a non-zero status, the real exit (it cannot read as a pass); else -- a
    thread the engine started, an `atexit` hook of its module -- an error in that thread, and
    the run goes on to its report and its own exit status."""
    pid = os.getpid()
    if pid not in _GUARDED and not any(entry[0] == pid for entry in _IN_CALL):
        _os_exit(status)
    if (pid, threading.get_ident()) in _IN_CALL:
        raise EngineExit(f"the engine called os._exit({status}), which would have ended the "
                         "whole run without a report")
    if status:
        _os_exit(status)
    raise EngineExit("os._exit(0) outside the engine's calls (from a thread it started, or "
                     "at exit) would have ended the run with status 0 whatever its verdict; "
                     "refused: the run goes on and exits with its own status")


def guard_exit() -> None:
    """From now on every os._exit(0) in this process goes through `_engine_exit` (a run's
    processes: the subject's code runs there, in its calls and in whatever it starts)."""
    if os.getpid() not in _GUARDED:
        _GUARDED.append(os.getpid())
    os._exit = _engine_exit


def _end_child(exc) -> None:
    """The engine forked and the child came back into the harness: it ends here, as Python
    would have ended it (SystemExit's code; 1 and the traceback after another exception;
    0 after a return), without flushing the parent's buffered output a second time."""
    if exc is None:
        code = 0
    elif isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    else:
        traceback.print_exception(exc)
        code = 1
    _os_exit(code)


def _after_fork_in_child() -> None:
    """A child the engine forks exits for real, and has a watchdog of its own (the parent's
    thread and lock do not come along)."""
    os._exit = _os_exit
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _x64():
    """JAX's float64 switch where JAX is loaded (the JAX oracle answers in float64), else
    None."""
    jax = sys.modules.get("jax")
    return getattr(getattr(jax, "config", None), "jax_enable_x64", None)


def _mp_prec():
    """mpmath's global precision where mpmath is loaded, else None: the referee computes
    inside `workdps`, but a number it converts outside takes the global precision, and an
    engine's `mp.dps = 3` made the referee blame a correct engine and the notes."""
    mpmath = sys.modules.get("mpmath")
    return getattr(getattr(mpmath, "mp", None), "prec", None)


def _restore_state(state):
    err, x64, prec = state
    if np.geterr() != err:
        np.seterr(**err)
    if x64 is not None and _x64() != x64:
        sys.modules["jax"].config.update("jax_enable_x64", x64)
    if prec is not None and _mp_prec() != prec:
        sys.modules["mpmath"].mp.prec = prec


# --- answers ----------------------------------------------------------------------------------

def to_float64(x, what: str, copy: bool = True) -> np.ndarray:
    """An engine's array-like as a NumPy float64 array: NumPy arrays and scalars, Python
    numbers, lists, torch tensors (detached, moved to the CPU), JAX arrays. Anything else,
    and complex values, are malformed. A copy (an engine may write into what it answered,
    later), unless `copy` is False: the harness's own oracles' answers, which nothing
    writes into again."""
    if x is None:
        raise Malformed(f"{what} is None")
    if isinstance(x, (str, bytes, dict, set)):
        raise Malformed(f"{what} is a {type(x).__name__}: {x!r:.80}")
    mod = type(x).__module__ or ""
    if mod.startswith("torch"):
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except Exception as exc:  # noqa: BLE001
        raise Malformed(f"{what} is not an array ({type(x).__name__}: {exc})") from None
    if a.dtype.kind == "c":
        raise Malformed(f"{what} is complex ({a.dtype})")
    if a.dtype.kind not in "fiub":
        raise Malformed(f"{what} is not numeric: {type(x).__name__} of dtype {a.dtype}")
    return a.astype(np.float64, copy=copy)


_SECOND = {"jvp": "out_tangent", "vjp": "cotangents",
           "hvp": "a tuple of arrays shaped like the primals"}


def _pair(res, what):
    if not isinstance(res, (tuple, list)) or len(res) != 2:
        got = f"a {type(res).__name__}" + (f" of length {len(res)}"
                                           if isinstance(res, (tuple, list)) else "")
        raise Malformed(f"{what} must return a pair (out, {_SECOND[what]}); got {got}")
    return res


def _shaped(a, shape, what):
    if a.shape != tuple(shape):
        raise Malformed(f"{what} has shape {a.shape}; expected {tuple(shape)}")
    return a


def check_jvp(res, out_shape, copy=True):
    """(out, out_tangent), both float64 and shaped like f's output (`copy`: to_float64's)."""
    out, t = _pair(res, "jvp")
    out = _shaped(to_float64(out, "the jvp's primal output", copy), out_shape,
                  "the jvp's primal output")
    t = _shaped(to_float64(t, "the jvp's output tangent", copy), out_shape,
                "the jvp's output tangent")
    return out, t


def check_vjp(res, out_shape, in_shapes, what="vjp", entry="cotangent", copy=True):
    """(out, cotangents): out shaped like f's output, one cotangent per input, each shaped
    like its input. An hvp's answer has the same form (`what="hvp"`, `entry="entry"`)."""
    out, bars = _pair(res, what)
    out = _shaped(to_float64(out, f"the {what}'s primal output", copy), out_shape,
                  f"the {what}'s primal output")
    if not isinstance(bars, (tuple, list)):
        raise Malformed(f"the {what}'s {entry}s must be a tuple with one entry per input "
                        f"({len(in_shapes)}); got a {type(bars).__name__}")
    if len(bars) != len(in_shapes):
        raise Malformed(f"the {what} returned {len(bars)} {entry}(s) for {len(in_shapes)} "
                        f"input(s)")
    return out, tuple(_shaped(to_float64(b, f"the {entry} of input {i}", copy), s,
                              f"the {entry} of input {i}")
                      for i, (b, s) in enumerate(zip(bars, in_shapes)))


def top(a) -> float:
    """The largest |entry| among the finite entries of `a` (0.0 for none). Two passes
    without a copy where every entry is finite, as in nearly every answer."""
    a = np.asarray(a, np.float64)
    if a.size == 0:
        return 0.0
    m = float(max(a.max(), -a.min()))
    if math.isfinite(m):
        return m
    return float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0))


def nonfinite_where_finite(got: np.ndarray, want: np.ndarray) -> str:
    """A message when `got` is NaN or infinite at an entry where `want` is finite (or of
    another sign of infinity), else ""."""
    bad = (~np.isfinite(got) & np.isfinite(want)) | \
        (np.isinf(want) & (got != want))
    if not np.any(bad):
        return ""
    k = int(np.flatnonzero(bad.ravel())[0])
    return (f"{fmt(got.ravel()[k])} at entry {k} where the reference is "
            f"{fmt(want.ravel()[k])} ({int(bad.sum())} such entries)")


def fmt(v, digits: int = 6) -> str:
    """A number for a message; NaN and inf as words, never a format error."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(v) if not math.isfinite(v) else f"{v:.{digits}g}"


def shape_of_output(f, xp, primals):
    """f's output shape, evaluated with NumPy (the claim's own evaluation)."""
    return np.shape(np.asarray(f(xp, *primals), dtype=np.float64))


__all__ = ["call", "Fault", "Malformed", "TimedOut", "MissingOp", "check_jvp", "check_vjp",
           "frozen", "to_float64", "describe", "has_mode", "nonfinite_where_finite", "fmt"]


def dtype_name(x) -> str:
    """The floating-point type an engine answered in ("float32", "float64", ...), read
    before the answer is converted to float64; Python floats are "float64"."""
    try:
        dt = getattr(x, "dtype", None)
    except Exception:  # noqa: BLE001 -- an engine's object; the answer's check says more
        return None
    if dt is None:
        return "float64" if isinstance(x, float) else type(x).__name__
    return str(dt).rsplit(".", 1)[-1]          # torch.float32 -> float32


def frozen(a, private: bool = True):
    """`a` (an array, or a list or tuple of them) as read-only copies, as `call` hands them
    over. An engine that wrote into the point's own arrays would change the input every
    engine after it is asked at, and the records already made would carry an input that
    was not the one asked (a correct engine then fails, an oracle disagrees, the notes are
    blamed). A plain write raises ("assignment destination is read-only"), in the engine
    that made it; one that gets past the flag (`torch.from_numpy`, `setflags` on the base)
    writes into its own copy, and its own answer shows it. Without `private`, read-only
    views: the harness's own oracles, which never write into an input and copy what they
    convert anyway (a verifying of the notes' network copied 88 MB in 11 copies, 9 of them
    for the oracles)."""
    if isinstance(a, np.ndarray):
        v = np.array(a, copy=True, subok=True) if private else a.view()
        v.flags.writeable = False
        return v
    if isinstance(a, (list, tuple)):
        return type(a)(frozen(b, private) for b in a)
    return a


def keeps_inputs(engine) -> bool:
    """Whether `engine` is one of the harness's oracles (JAX, PyTorch, fd, the referee), by
    its class itself as the registry loaded it (a subject's class attributes, `__module__`
    included, prove nothing), which leave their inputs as they are: asked through read-only
    views, not copies."""
    if getattr(type(engine), "keeps_inputs", False) is not True:
        return False
    from . import ORACLES, _cache
    return any(_cache.get(name) is type(engine) for name in ORACLES)


def answer(engine, kind: str, f, x, w, out_shape, timeout=None, seen: dict | None = None):
    """An engine's validated answer to `kind` ("jvp" along tangents w, "vjp" along the
    cotangent w, "hvp" along w = (cotangent, tangents)) at x: (answer, None), or
    (None, Fault) when it raised, timed out or answered something malformed. Every engine,
    subject or oracle, is asked through here. `seen["dtype"]`, when given, receives the type
    the derivative was answered in (answers are compared in float64)."""
    args = (f, x, *w) if kind == "hvp" else (f, x, w)
    trusted = keeps_inputs(engine)
    res, fault = call(getattr(engine, kind), *args, timeout=timeout, private=not trusted)
    if fault is not None:
        return None, fault
    if seen is not None and isinstance(res, (tuple, list)) and len(res) == 2:
        d = res[1]
        seen["dtype"] = dtype_name(d[0] if isinstance(d, (tuple, list)) and d else d)
    shapes = [np.shape(a) for a in x]
    try:
        copy = not trusted   # an oracle's answer is not written into again: no copy
        return (check_jvp(res, out_shape, copy) if kind == "jvp" else
                check_vjp(res, out_shape, shapes, copy=copy) if kind == "vjp" else
                check_vjp(res, out_shape, shapes, "hvp", "entry", copy)), None
    except Malformed as exc:
        return None, Fault("malformed", f"malformed answer: {exc}")
