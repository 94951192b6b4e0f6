"""float32: at every differentiable point, every subject is asked again with the input, the
tangents and the cotangent rounded to float32 (checks `jvp`, `vjp` and `value`, records with
`dtype` "float32"), and judged by an error model, not by one loose number.

The reference is float64's, at exactly the rounded input: the oracles that made or confirmed
the float64 reference at the drawn point are asked again there (the referee only where no AD
oracle agreed with it). The tolerance is

    ULPS32 * eps32 * g * (|reference| + |answer|)  +  SAMPLE_FACTOR * sample  +  4 * floor

where `sample` is how far honest float32 implementations land from the reference at this
point: the AD oracles (JAX, PyTorch) asked in float32 at the rounded input and at its two
float32 neighbours (every entry one ulp up, one ulp down), and for the primal value NumPy's own
float32 evaluation of the claim too, and g is n^(1/4) over the n input entries where a sample
was taken, sqrt(n) without one (`tolerance`). It measures the claim's conditioning
where it matters:
1 - tanh(x)^2 at x = 5 loses three digits to cancellation in any float32 implementation that
computes it from tanh(x), which a model built from f alone (well conditioned there) would call a
defect. The neighbours keep one oracle's lucky rounding from setting the bar: an error that
vanishes at one input does not vanish at three. A float16 derivative (eps16 = 8192 eps32)
or log(1 + x) in place of log1p(x) near 0 stays far beyond it.

Without any float32 answer from an AD oracle there is no sample, and a difference beyond the
rounding term is `inconclusive` (the rounding of a cancellation cannot be told from a defect).
A subject may answer in float64 for float32 inputs (it computed more precisely than asked):
its records carry the type it answered in (`returned_dtype`) and are judged by the same model.
A subject opts out with `dtypes = ("float64",)`: its float32 records are `unsupported`."""
from __future__ import annotations

import math

import numpy as np

from ..calls import call, has_mode, top
from ..fd import xp as np_xp
from .derivatives import at_point
from ..reference import (FLOOR_MAX, Reference, abs_diff, ad_tolerance, ask, establish, flat,
                         measure)

EPS32 = float(np.finfo(np.float32).eps)
ULPS32 = 16            # as float64's AD_ULPS, in float32's ulps
SAMPLE_FACTOR = 32     # the subject may round this many times worse than the sampled oracles
PERTURB = 2           # float32 roundings by which the conditioning term moves each input
NEIGHBOURS_MAX = 4096  # input entries up to which the neighbours are sampled too
CI_POINTS = 1          # under the ci profile, a claim's first differentiable point; all under
                       # thorough
DTYPE = "float32"
TINY32 = float(np.finfo(np.float32).tiny)
F32_MAX = float(np.finfo(np.float32).max)   # below it float32 underflows: an absolute term


def applies(claim, point) -> bool:
    return claim.f is not None and not point.kinks


def wanted(run) -> bool:
    return DTYPE in getattr(run.harness.options, "dtypes", ("float64", DTYPE))


def run(run, point):
    thorough = getattr(run.harness.options, "profile", "ci") != "ci"
    done = getattr(run, "float32_points", 0)    # differentiable points asked so far
    if not wanted(run) or (done >= CI_POINTS and not thorough):
        return
    run.float32_points = done + 1
    x32 = [np.asarray(a, np.float32) for a in point.x]
    rec = _unusable(run, point, x32)
    if rec is not None:
        yield rec
        return
    p = _Point32(run, point, x32)
    for eng in run.harness.subjects:
        yield from _subject(run, eng, p)


class _Point32:
    """The float32 question at a drawn point: rounded inputs, the float64 reference there,
    and how far float32 oracles land from it."""

    def __init__(self, run, point, x32):
        self.point, self.x32 = point, x32
        self.x = [a.astype(np.float64) for a in x32]
        self.v32 = [np.asarray(t, np.float32) for t in point.v]
        self.u32 = np.asarray(point.u, np.float32)
        self.w = {"jvp": self.v32, "vjp": self.u32}
        self.w64 = {"jvp": [t.astype(np.float64) for t in self.v32],   # the same values
                    "vjp": self.u32.astype(np.float64)}
        self.n = point.n
        self.out = np.asarray(run.f(np_xp, *self.x), np.float64)
        self.inputs = point.inputs
        self.ref = {kind: _reference(run, kind, self.x, self.w64[kind], self.out.shape,
                                     point.ref[kind]) for kind in ("jvp", "vjp")}
        self.sample, self.sampled_by = _samples(run, self)


def _reference(run, kind, x, w, out_shape, ref64) -> Reference:
    """The float64 reference at the rounded input. Where AD oracles agreed with the float64
    reference at the drawn point, they are asked again here (one float32 ulp away; the
    referee, the costly one, is not) and the first answer is the reference, their spread and
    the float64 floor its floor: float64 rounding, far below what float32 is judged by. Else
    the oracles that made the float64 reference establish it again."""
    h = run.harness
    ads = [nm for nm in ref64.agreed if nm in h.oracles and h.roles.get(nm) == "ad"]
    if not ads:
        names = [nm for nm in ref64.agreed if nm in h.oracles]
        if not names:
            return ref64 if not ref64.ok else Reference(kind, why="no oracle to ask")
        return establish(kind, run.f, x, w, out_shape, {nm: h.oracles[nm] for nm in names},
                         h.roles, h.seed, h.timeout)
    got = []
    for name in ads:
        ans, why = ask(h.oracles[name], kind, run.f, x, w, out_shape, h.timeout)
        if ans is not None:
            got.append((name, ans))
    if not got:
        return Reference(kind, why=f"{', '.join(ads)} could not answer at the rounded input")
    (name0, (out, d)), base = got[0], flat(kind, got[0][1][1])
    spread = max((_gap(flat(kind, a[1]), base) for _, a in got[1:]), default=0.0)
    scale = top(base)
    if spread > ad_tolerance(base, base, len(base)) + FLOOR_MAX * scale + ref64.floor:
        return Reference(kind, why=f"{' and '.join(nm for nm, _ in got)} disagree at the "
                         f"input rounded to float32 by {spread:.3g}")
    return Reference(kind, out, d, name0, [nm for nm, _ in got],
                     floor=max(ref64.floor, spread))


def _unusable(run, point, x32):
    """A record when the input cannot be asked in float32 (it overflows, or rounding puts it
    on a kink), else None."""
    why = ""
    if not all(np.all(np.isfinite(a)) for a in x32):
        why = "the input is not finite in float32 (it overflows)"
    else:
        xr = [a.astype(np.float64) for a in x32]
        _, fault = call(run.f, np_xp, *xr)
        if fault is not None:
            why = f"f cannot be evaluated at the input rounded to float32: {fault.message}"
        for kink in run.claim.kinks:
            hit, fault = call(kink.at, *xr)
            if fault is None and bool(np.any(hit)):
                why = f"the input rounded to float32 lies on the kink {kink.text or 'of the claim'!r}"
    if not why:
        return None
    return run.record("reference", "reference", "inconclusive", dtype=DTYPE,
                      inputs=point.inputs, detail=why)


def _neighbours(x32):
    out = [x32]
    if sum(a.size for a in x32) <= NEIGHBOURS_MAX:
        out += [[np.nextafter(a, np.float32(d)) for a in x32] for d in (np.inf, -np.inf)]
    return out


def _samples(run, p):
    """{"jvp"/"vjp"/"value": the largest distance of a float32 oracle from the reference},
    and for each the names of the implementations sampled (none: no sample)."""
    h = run.harness
    worst = {"jvp": 0.0, "vjp": 0.0, "value": 0.0}
    by = {"jvp": set(), "vjp": set(), "value": set()}
    for name, eng in h.oracles.items():
        if h.roles.get(name) != "ad":
            continue
        for kind in ("jvp", "vjp"):
            ref = p.ref[kind]      # an oracle that disagreed with float64's is no sample
            if not ref.ok or not has_mode(eng, kind) or name not in p.point.ref[kind].agreed:
                continue
            for x in _neighbours(p.x32):
                ans, _, fault = run.ask(eng, kind, x, p.w[kind], p.out.shape)
                if fault is not None:
                    break
                by[kind].add(name)
                by["value"].add(name)
                worst[kind] = max(worst[kind], _gap(flat(kind, ans[1]), ref.flat()))
                worst["value"] = max(worst["value"], _gap(np.ravel(ans[0]), p.out.ravel()))
    try:
        own = np.asarray(run.f(np_xp, *p.x32), np.float64).ravel()
        worst["value"] = max(worst["value"], _gap(own, p.out.ravel()))
        by["value"].add("numpy")
    except Exception:  # noqa: BLE001 -- NumPy's float32 evaluation is only a sample
        pass
    _conditioning(run, p, worst)
    return worst, {k: sorted(v) for k, v in by.items()}


def _conditioning(run, p, worst):
    """Raise each sample to how far the float64 answer moves when every input entry moves by
    PERTURB float32 roundings (random signs, both ways): the conditioning of the claim at
    this input, with no luck in it. An honest float32 implementation whose primitives round
    a few ulps worse than the sampled oracles' (NumPy's float32 transcendental functions
    against XLA's) is met where f' crosses zero, which one lucky oracle sample alone misses."""
    h = run.harness
    rng = np.random.default_rng(h.seed + 32 + p.point.index)
    signs = [rng.choice([-1.0, 1.0], size=np.shape(a)) for a in p.x]
    for sign in (1.0, -1.0):
        xs = [a * (1.0 + sign * PERTURB * EPS32 * sg) for a, sg in zip(p.x, signs)]
        for kind in ("jvp", "vjp"):
            ref = p.ref[kind]
            ads = [nm for nm in ref.agreed if h.roles.get(nm) == "ad" and nm in h.oracles]
            if not ref.ok or not ads:
                continue
            ans, _, fault = run.ask(h.oracles[ads[0]], kind, xs, p.w64[kind], p.out.shape)
            if fault is None:
                worst[kind] = max(worst[kind], _gap(flat(kind, ans[1]), ref.flat()))
        try:
            moved = np.asarray(run.f(np_xp, *xs), np.float64).ravel()
            worst["value"] = max(worst["value"], _gap(moved, p.out.ravel()))
        except Exception:  # noqa: BLE001 -- only a sample
            pass


def _gap(a, b) -> float:
    d = abs_diff(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return float(np.max(np.where(np.isfinite(d), d, 0.0), initial=0.0))


def tolerance(want, got, n, sample, floor=0.0, sampled=False) -> float:
    """The float32 error model (module docstring). The rounding term grows with the n input
    entries, for the sums over them: as sqrt(n) without a sample (a sequential sum's error
    grows so), as n^(1/4) where float32 oracles measured the rounding here (`sampled`). With
    sqrt(n) there, it allowed 0.4% of the answer at a million inputs, and an engine whose
    derivatives came out of TF32 (10 bits) passed, 2,000 times farther from the reference
    than honest float32 engines; with no growth, an honest engine summing a million entries
    one after another (which the oracles, summing pairwise, do not) would fail. n^(1/4) is
    between: at a million inputs a sequential sum stays 15 times inside it."""
    growth = max(1.0, n ** 0.25 if sampled else math.sqrt(n))
    rounding = ULPS32 * (EPS32 * growth * (top(want) + top(got)) + TINY32)
    return rounding + SAMPLE_FACTOR * sample + 4 * floor + 1e-300


def _declared(eng) -> tuple:
    """The precisions an engine declares (`dtypes`, a name or a sequence of names); both
    when it declares none."""
    d = getattr(eng, "dtypes", None)
    if d is None:
        return ("float64", DTYPE)
    if isinstance(d, str):
        return (d,)
    try:
        return tuple(str(x) for x in d)
    except TypeError:
        return (str(d),)


def _subject(run, eng, p):
    declared = _declared(eng)
    if DTYPE not in declared:
        for kind in ("jvp", "vjp"):
            yield run.record(eng.name, kind, "unsupported", dtype=DTYPE, inputs=p.inputs,
                             detail=f"the engine declares dtypes {declared!r}")
        return
    for kind in ("jvp", "vjp"):
        if not has_mode(eng, kind):
            yield run.record(eng.name, kind, "unsupported", dtype=DTYPE, inputs=p.inputs,
                             detail=f"the engine has no {kind}")
            continue
        seen = {}
        ans, names, fault = run.ask(eng, kind, p.x32, p.w[kind], p.out.shape, seen=seen)
        if fault is not None:
            yield at_point(run.record(eng.name, kind, fault.category, dtype=DTYPE,
                                      inputs=p.inputs, detail=fault.message,
                                      namespace=names), p.point)
            continue
        ref = p.ref[kind]
        if not ref.ok:
            yield run.record(eng.name, kind, "inconclusive", dtype=DTYPE, inputs=p.inputs,
                             detail=ref.why, namespace=names)
            continue
        common = dict(namespace=names, returned_dtype=seen.get("dtype"), kind=kind)
        yield at_point(judge(run, eng.name, kind, flat(kind, ans[1]), ref.flat(), p,
                             p.sample[kind], ref, **common), p.point)   # blamed in float64
        want_out = np.asarray(ref.out if ref.out is not None else p.out, np.float64)
        yield judge(run, eng.name, "value", np.ravel(ans[0]), want_out.ravel(), p,
                    p.sample["value"], ref, **common)


def judge(run, engine, check, got, want, p, sample, ref, kind, **kw):
    """One float32 answer against the float64 reference at the rounded input. Where nothing
    measured float32's rounding here (no sample), an error beyond the rounding term is
    `inconclusive`: at a cancellation (1 - tanh(x)^2 at x = 9) an honest float32 answer can be
    wrong in every digit, so no size of error tells a defect from rounding without one."""
    from ..harness import summarize
    if got.shape != want.shape:
        return run.record(engine, check, "subject-defect", dtype=DTYPE, inputs=p.inputs,
                          detail=f"{got.size} entries where the reference has {want.size}",
                          **kw)
    beyond = ~np.isfinite(want) | (np.abs(want) > F32_MAX)
    if beyond.all() and want.size:
        return run.record(engine, check, "inconclusive", dtype=DTYPE, inputs=p.inputs,
                          detail="the reference is not a finite float32 number here", **kw)
    got, want = got[~beyond], want[~beyond]     # overflow or a singularity: not float32's
    tol = tolerance(want, got, p.n, sample, ref.floor, bool(p.sampled_by[check]))
    ok, err, rel, bad = measure(got, want, tol)
    category = "agree" if ok else "subject-defect"
    lines = [f"the primal output returned by the {kind}"] if check == "value" else []
    lines += [f"float32 inputs; answered in {kw.get('returned_dtype')}",
             f"error model: rounding + {SAMPLE_FACTOR} x {sample:.3g} sampled from "
             + (", ".join(p.sampled_by[check]) or "no float32 oracle")]
    if beyond.any():
        lines.append(f"{int(beyond.sum())} entries where the reference is not a finite float32 "
                     "number are not compared")
    if bad:
        lines.append(bad)
    elif not ok and not p.sampled_by[check]:
        category = "inconclusive"
        lines.append("beyond rounding, but no float32 oracle measured the rounding here")
    return run.record(engine, check, category, dtype=DTYPE, max_abs_error=err,
                      max_rel_error=rel, tolerance=tol,
                      inputs=p.inputs, reference=ref.source, agreed=list(ref.agreed),
                      values={"got": summarize(got), "reference": summarize(want)},
                      detail="\n".join(lines), **kw)
