"""The reference at one drawn point, as a value, and the tolerance model every comparison uses.

The reference for a derivative is, in order of preference:
1. the referee (role "referee", mpmath at 50 digits), where it can evaluate the claim, with the
   AD oracles that agree with it listed;
2. else the AD oracles (role "ad") agreeing with each other to AD tolerance, confirmed by
   finite differences (role "numeric") within fd's own error estimate (for a VJP along one
   random direction v: <J^T u, v> against <u, J v>, so confirming a million-entry gradient
   costs O(1) evaluations);
3. else nothing: `Reference.value is None` and `why` says why ("inconclusive").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .calls import Malformed, answer, call, fmt, nonfinite_where_finite, to_float64, top

EPS = float(np.finfo(np.float64).eps)
AD_ULPS = 16      # float64 AD against a reference: this many ulps of the values' size,
                  # times sqrt(number of input entries) for the length of the sums involved
OWN_ULPS = 16     # the subject's JVP against its own VJP, ulps of the terms' sizes
FLOOR_FACTOR = 4  # times the float64 floor (below)
FLOOR_MAX = 1e-9  # the most, relative, that the floor may be: rounding, not disagreement


def ad_tolerance(ref, got, n_entries: int, ref_top: float | None = None) -> float:
    """AD against AD in float64: a few ulps of the values' size, longer sums allowed more.
    `ref_top`: `top(ref)` where the caller has it (a reference's, `Reference.top`)."""
    return tolerance_of((top(ref) if ref_top is None else ref_top) + top(got), n_entries)


def tolerance_of(scale: float, n_entries: int) -> float:
    """`ad_tolerance` of two answers whose tops add up to `scale`."""
    return AD_ULPS * EPS * max(1.0, math.sqrt(n_entries)) * scale + 1e-300


def abs_diff(a, b) -> np.ndarray:
    """|a - b| in one new array (not two: answers have up to millions of entries)."""
    d = np.subtract(a, b)
    return np.abs(d, out=d) if isinstance(d, np.ndarray) else np.abs(d)


def measure(got: np.ndarray, want: np.ndarray, tol, want_top: float | None = None):
    """`got` against `want` (flat, same shape) within `tol` (a number or one per entry):
    (ok, largest absolute error, that error relative to the reference's largest finite
    entry, a message about non-finite entries where the reference is finite, or ""). An
    infinity equal to the reference's agrees. `want_top`: `top(want)` where known."""
    diff = abs_diff(got, want)
    err = float(np.max(diff, initial=0.0))
    scale = top(want) if want_top is None else want_top
    if math.isfinite(err):   # then every entry of both is finite
        ok = bool(err <= tol) if np.ndim(tol) == 0 else bool(np.all(diff <= tol))
        return ok, err, (err / scale if scale else err), ""
    err = float(np.max(np.where(np.isfinite(diff), diff, np.inf), initial=0.0))
    bad = nonfinite_where_finite(got, want)
    ok = not bad and bool(np.all((diff <= tol) | (np.isinf(want) & (got == want))))
    return ok, err, (err / scale if scale else err), bad


@dataclass
class Reference:
    """The reference answer to one question ("jvp" along v, or "vjp" along u) at one point.

    `floor` is what float64 AD can reach at this point: how far a float64 AD oracle lies from
    the referee. Near a cancellation (1 - tanh(x)^2 for large x) every float64 engine misses
    the exact value by about as much; it only widens a tolerance by rounding-sized amounts
    (FLOOR_MAX relative)."""
    kind: str
    out: np.ndarray | None = None
    derivative: tuple | np.ndarray | None = None   # J v, or the tuple J^T u
    source: str | None = None
    agreed: list = field(default_factory=list)
    why: str = ""
    floor: float = 0.0
    _flat: np.ndarray | None = field(default=None, repr=False, compare=False)
    _top: float | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.derivative is not None

    def flat(self) -> np.ndarray:
        """The derivative as one float64 vector (made once: every check at the point reads
        it; never written to)."""
        if self._flat is None:
            self._flat = flat(self.kind, self.derivative)
        return self._flat

    def top(self) -> float:
        """`top` of the derivative (made once, as `flat`)."""
        if self._top is None:
            self._top = top(self.flat())
        return self._top


def flat(kind, derivative) -> np.ndarray:
    if kind == "jvp":
        return np.ravel(np.asarray(derivative, float))
    parts = [np.ravel(np.asarray(b, float)) for b in derivative]
    return np.concatenate(parts) if parts else np.zeros(0)


def ask(engine, kind, f, x, w, out_shape, timeout=None):
    """An oracle's validated answer (out, derivative) or (None, message)."""
    ans, fault = answer(engine, kind, f, x, w, out_shape, timeout)
    return ans, (fault.message if fault is not None else "")


def establish(kind, f, x, w, out_shape, oracles: dict, roles: dict, seed=0,
              timeout=None, along=None, memo=None, sampler=None) -> Reference:
    """The reference for `kind` at x along w, from the oracles by their roles. A VJP is
    confirmed by finite differences along `along` (the point's JVP tangent; a fresh random
    direction when None); `memo` (a dict per point) keeps fd's estimate along it, so the JVP
    and the VJP of one point cost one fd estimate between them."""
    n = int(sum(np.size(a) for a in x))
    by_role = {r: [(nm, e) for nm, e in oracles.items() if roles[nm] == r]
               for r in ("referee", "ad", "numeric")}
    ref_res = None
    for name, eng in by_role["referee"]:
        ref_res, _ = ask(eng, kind, f, x, w, out_shape, timeout)
        if ref_res is not None:
            referee = name
            break
    ads = []
    for name, eng in by_role["ad"]:
        res, _ = ask(eng, kind, f, x, w, out_shape, timeout)
        if res is not None:
            ads.append((name, res))
    flats = [flat(kind, res[1]) for _, res in ads]   # each made once (a million entries)
    if ref_res is not None:
        want = flat(kind, ref_res[1])
        scale = float(np.max(np.abs(want), initial=0.0))
        agreed, floor = [referee], 0.0
        for (name, res), got in zip(ads, flats):
            gap = _rounding_gap(got, want, n, scale)
            if gap is not None:
                agreed.append(name)
                floor = max(floor, gap)
        if not ads and sampler is not None:
            floor = _sampled_floor(sampler, kind, f, x, w, out_shape, timeout, want, n,
                                   scale)
        if len(agreed) > 1 or not ads:
            return Reference(kind, ref_res[0], ref_res[1], referee, agreed, floor=floor,
                             _flat=want)
        # the referee and every AD oracle disagree: finite differences decide
    if not ads:
        return Reference(kind, why="no AD oracle could evaluate the claim")
    name0, res0 = ads[0]
    a, a_top = flats[0], top(flats[0])
    gaps, odd = _gaps(flats, n, a_top)
    if odd is not None:
        return Reference(kind, why=f"{name0} and {ads[odd][0]} disagree")
    agreed = [name for name, _ in ads]
    confirmed = False
    for name, eng in by_role["numeric"]:
        ok, why = fd_confirms(eng, kind, f, x, w, res0, n, seed, along,
                              None if memo is None else memo.setdefault(name, {}))
        if ok is False:
            return Reference(kind, why=f"{'+'.join(agreed)} not confirmed by {name}: {why}")
        if ok:
            agreed.append(name)
            confirmed = True
    if not confirmed and ref_res is not None:
        return Reference(kind, why="the referee and the AD oracles disagree")
    return Reference(kind, res0[0], res0[1], "+".join(agreed), agreed,
                     floor=max(gaps, default=0.0), _flat=a, _top=a_top)


def _gaps(flats, n: int, a_top: float):
    """max |a - b| between the first AD oracle's answer a and each other's b, all within AD
    tolerance (([gaps], None)), or ([...], the index of the first beyond it; NaN is)."""
    a, gaps = flats[0], []
    for i, b in enumerate(flats[1:], 1):
        gap = float(np.max(abs_diff(a, b), initial=0.0))
        if not gap <= ad_tolerance(a, b, n, a_top):
            return gaps, i
        gaps.append(gap)
    return gaps, None


def _rounding_gap(got, want, n: int, scale: float) -> float | None:
    """How far a float64 AD answer lies from the referee's, where that is rounding (within
    AD tolerance plus FLOOR_MAX of the answer's size), else None: the floor it measures."""
    gap = float(np.max(abs_diff(got, want), initial=0.0))
    return gap if gap <= ad_tolerance(want, got, n) + FLOOR_MAX * scale else None


def _sampled_floor(sampler, kind, f, x, w, out_shape, timeout, want, n, scale) -> float:
    """The float64 floor where no AD oracle answered: how far `sampler` (ourad, float64 AD
    in NumPy; `Harness.sampler`) lies from the referee, where it agrees with it to rounding.
    Without it the tolerance was 16 ulps of the answer alone, and where the answer comes out
    of a cancellation (xent's derivative through a sigmoid: terms of about 1 leaving 0.02) a
    right engine's few ulps of the terms failed it (3.96e-16 against 3.84e-16). It widens
    nothing else: the sampler is never a reference, and a gap beyond rounding is not used."""
    res, _ = ask(sampler, kind, f, x, w, out_shape, timeout)
    gap = None if res is None else _rounding_gap(flat(kind, res[1]), want, n, scale)
    return gap or 0.0


def fd_confirms(fd, kind, f, x, w, res, n, seed, along=None, memo=None):
    """(True/False, why), or (None, why) when fd cannot say. `memo` holds the last estimate
    with its direction (compared by identity)."""
    if kind == "jvp":
        v = w
    elif along is not None:
        v = along
    else:
        rng = np.random.default_rng(seed + 7)
        v = [rng.standard_normal(np.shape(a)) for a in x]
    if memo is not None and memo.get("along") is v:
        est, fault = memo["estimate"]
    else:
        est, fault = call(fd.directional, f, x, v, private=False)   # the harness's own fd
        if memo is not None:
            memo.update(along=v, estimate=(est, fault))
    if fault is not None:
        return None, fault.message
    try:
        value, error = to_float64(est.value, "fd"), to_float64(est.error, "fd's error")
    except Malformed as exc:
        return None, str(exc)
    if kind == "jvp":
        target = np.asarray(res[1], float)
        diff = np.abs(value - target)
        tol = error + ad_tolerance(target, target, n)
        return bool(np.all(diff <= tol)), f"max |fd - ad| {fmt(np.max(diff, initial=0))}"
    u = np.asarray(w, float)
    lhs = float(np.sum(u * value))
    rhs = float(sum(np.sum(np.asarray(b, float) * vv) for b, vv in zip(res[1], v)))
    tol = float(np.sum(np.abs(u) * error)) + ad_tolerance(lhs, rhs, n)
    return abs(lhs - rhs) <= tol, f"<u, fd J v> = {fmt(lhs)}, <J^T u, v> = {fmt(rhs)}"
