"""The conformance harness: runs a claim through the subject and every oracle, establishes the
reference, compares, classifies and writes records. pytest's wiring (tests/conftest.py) only
hands claims and options to a `Harness` and collects its records.

The reference for a derivative at a drawn input is, in order of preference:
1. the high-precision referee (mpmath, 50 digits), where it can evaluate the claim;
2. else the AD oracles (JAX, PyTorch) agreeing with each other to AD tolerance, confirmed by
   finite differences within fd's own error estimate (for a VJP, along one random direction
   v: <J^T u, v> against <u, J v>, so confirming a million-entry gradient costs O(1)
   evaluations);
3. else nothing: the record says "inconclusive".
"""
from __future__ import annotations

import math
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .claims import Claim, ClaimFileError
from .fd import xp as np_xp
from .protocol import Unsupported, as_float64, basis

CATEGORIES = ("agree", "subject-defect", "notes-erratum", "oracle-disagreement",
              "kink-convention", "unsupported", "inconclusive")
# when one (engine, check) pair meets several verdicts over the drawn inputs, the worst stands
_SEVERITY = {"subject-defect": 6, "notes-erratum": 6, "oracle-disagreement": 5,
             "inconclusive": 4, "unsupported": 3, "kink-convention": 2, "agree": 1}
EPS = float(np.finfo(np.float64).eps)
AD_ULPS = 16      # float64 AD against a reference: this many ulps of the values' size,
                  # times sqrt(number of inputs) for the length of the sums involved
OWN_ULPS = 16     # the subject's JVP against its own VJP, ulps of the terms' sizes
FLOOR_FACTOR = 4  # times the float64 floor (see Harness._reference)
FLOOR_MAX = 1e-9  # the most, relative, that the floor may be: rounding, not disagreement
JAC_MAX = 64      # full Jacobians are checked when inputs x outputs has at most this many


class ClaimError(ClaimFileError):
    """A claim that cannot be checked as written (its function or its domain is broken)."""


def ad_tolerance(ref, got, n_inputs: int) -> float:
    scale = float(np.max(np.abs(ref), initial=0.0)) + float(np.max(np.abs(got), initial=0.0))
    return AD_ULPS * EPS * max(1.0, math.sqrt(n_inputs)) * scale + 1e-300


@dataclass
class Record:
    claim: str
    section: str
    engine: str
    check: str
    category: str
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    tolerance: float | None = None
    inputs: Any = None
    reference: str | None = None
    agreed: list = field(default_factory=list)
    values: dict = field(default_factory=dict)
    detail: str = ""
    reproduce: str = ""
    probe: bool = False
    n_inputs: int = 1
    baselined: bool = False

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else str(v)
    if isinstance(x, np.integer):
        return int(x)
    return x


def summarize(a, limit=8):
    """A short, JSON-friendly picture of an array: the values if small, else shape and head."""
    a = np.asarray(a, dtype=float)
    if a.size <= limit:
        return a.tolist()
    return {"shape": list(a.shape), "head": a.ravel()[:limit].tolist()}


def _in_catalogue(claim: Claim) -> bool:
    from pathlib import Path
    return Path(claim.source).name.startswith("sec_") and \
        Path(claim.source).parent.name == "notes"


def reproduce_line(claim: Claim) -> str:
    extra = "" if _in_catalogue(claim) else f" --ad-formulas {claim.source}"
    return f"pytest tests/notes -k '{claim.id}'{extra}"


def snippet(claim: Claim, engine: str, inputs, kind: str) -> str:
    """Copy-pasteable Python that recomputes one result outside pytest."""
    arrays = ", ".join(f"np.array({np.asarray(x).tolist()!r})" for x in inputs)
    extra = "" if _in_catalogue(claim) else f", extra=[{claim.source!r}]"
    lines = ["import numpy as np, oracles", "from oracles.claims import find_claim",
             f"claim = find_claim({claim.id!r}{extra})", f"x = [{arrays}]"]
    if kind == "jvp":
        lines.append("v = [np.ones_like(a) for a in x]")
        lines.append(f"print(oracles.engine({engine!r}).jvp(claim.f, x, v))")
        lines.append("print(oracles.engine('referee').jvp(claim.f, x, v))  # the reference")
    else:
        lines.append("u = np.ones_like(np.asarray(claim.f(oracles.engine('fd').xp, *x), float))")
        lines.append(f"print(oracles.engine({engine!r}).vjp(claim.f, x, u))")
        lines.append("print(oracles.engine('referee').vjp(claim.f, x, u))  # the reference")
    return "\n".join(lines)


class _Agg:
    """The worst verdict of one (engine, check) over the drawn inputs."""

    def __init__(self):
        self.best: dict[tuple, Record] = {}
        self.count: dict[tuple, int] = {}

    def add(self, rec: Record):
        key = (rec.engine, rec.check)
        self.count[key] = self.count.get(key, 0) + 1
        old = self.best.get(key)
        if old is None or (_SEVERITY[rec.category], rec.max_rel_error or 0) > (
                _SEVERITY[old.category], old.max_rel_error or 0):
            self.best[key] = rec

    def records(self):
        out = []
        for key, rec in self.best.items():
            rec.n_inputs = self.count[key]
            out.append(rec)
        return out


@dataclass
class Context:
    """What a printed value or a cost statement is computed with."""
    reference: Any                     # the most trusted engine available
    engines: dict                      # every engine by name, subjects and oracles
    subjects: list


def _call(fn, *args):
    """Run an engine call; returns (result, None) or (None, (category, message))."""
    try:
        return fn(*args), None
    except (Unsupported, NotImplementedError, AttributeError) as exc:
        return None, ("unsupported", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 -- any other failure is the engine's answer
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return None, ("error", tb)


def _has(engine, mode):
    return callable(getattr(engine, mode, None))


class Harness:
    """Checks claims. `subjects` are the engines under test; `oracles` the references by
    name (any of jax, torch, fd, referee)."""

    def __init__(self, subjects, oracles: dict, seed: int = 0):
        self.subjects = list(subjects)
        self.oracles = dict(oracles)
        self.seed = seed
        ref = self.oracles.get("referee") or self.oracles.get("jax") or \
            self.oracles.get("torch") or self.oracles.get("fd")
        engines = {e.name: e for e in self.subjects}
        engines.update(self.oracles)
        self.context = Context(ref, engines, self.subjects)

    # --- the reference ----------------------------------------------------------------------

    def _reference(self, kind, f, x, w, n):
        """(value, engine name, agreed engines, detail, floor) or (None, None, [], why, 0).

        `floor` is what float64 AD can reach at this point: how far a float64 AD oracle lies
        from the referee. Near a cancellation (1 - tanh(x)^2 for large x, say) it is more
        than a few ulps, and every float64 engine misses the exact value by about as much.
        It only ever widens a tolerance by rounding-sized amounts (FLOOR_MAX relative): a
        larger gap between the referee and the AD oracles is a disagreement, which finite
        differences settle.
        """
        ref = self.oracles.get("referee")
        ref_res = None
        if ref is not None:
            ref_res, err = _call(getattr(ref, kind), f, x, w)
        ads = []
        for name in ("jax", "torch"):
            eng = self.oracles.get(name)
            if eng is not None:
                res, err = _call(getattr(eng, kind), f, x, w)
                if err is None:
                    ads.append((name, res))
        if ref_res is not None:
            want = _flat(kind, ref_res)
            scale = float(np.max(np.abs(want), initial=0.0))
            agreed, floor = ["referee"], 0.0
            for name, res in ads:
                got = _flat(kind, res)
                if got.shape != want.shape:
                    continue
                gap = float(np.max(np.abs(got - want), initial=0.0))
                if gap <= ad_tolerance(want, got, n) + FLOOR_MAX * scale:
                    agreed.append(name)
                    floor = max(floor, gap)
            if len(agreed) > 1 or not ads:
                return ref_res, "referee", agreed, "", floor
            # the referee and every AD oracle disagree: finite differences decide
        if not ads:
            return None, None, [], "no AD oracle could evaluate the claim", 0.0
        name0, res0 = ads[0]
        agreed = [name0]
        for name, res in ads[1:]:
            if _close(kind, res0, res, n):
                agreed.append(name)
            else:
                return None, None, [], f"{name0} and {name} disagree", 0.0
        fd = self.oracles.get("fd")
        if fd is not None:
            ok, why = self._fd_confirms(fd, kind, f, x, w, res0, n)
            if ok is False:
                return None, None, [], f"{'+'.join(agreed)} not confirmed by fd: {why}", 0.0
            if ok:
                agreed.append("fd")
        elif ref_res is not None:
            return None, None, [], "the referee and the AD oracles disagree", 0.0
        floor = max((float(np.max(np.abs(_flat(kind, r) - _flat(kind, res0)), initial=0.0))
                     for _, r in ads[1:]), default=0.0)
        return res0, "+".join(agreed), agreed, "", floor

    def _fd_confirms(self, fd, kind, f, x, w, res, n):
        rng = np.random.default_rng(self.seed + 7)
        if kind == "jvp":
            v, target = w, as_float64(res[1])
        else:
            v = [rng.standard_normal(np.shape(a)) for a in x]
            target = None
        est, err = _call(fd.directional, f, x, v)
        if err is not None:
            return None, err[1]
        if kind == "jvp":
            diff = np.abs(as_float64(est.value) - target)
            tol = as_float64(est.error) + ad_tolerance(target, target, n)
            return bool(np.all(diff <= tol)), f"max |fd - ad| {float(np.max(diff)):.3g}"
        u = as_float64(w)
        lhs = float(np.sum(u * as_float64(est.value)))
        rhs = float(sum(np.sum(as_float64(b) * vv) for b, vv in zip(res[1], v)))
        tol = float(np.sum(np.abs(u) * as_float64(est.error))) + ad_tolerance(lhs, rhs, n)
        return abs(lhs - rhs) <= tol, f"<u, fd J v> = {lhs:.6g}, <J^T u, v> = {rhs:.6g}"

    # --- one claim --------------------------------------------------------------------------

    def run_claim(self, claim: Claim, inputs_list) -> list[Record]:
        agg = _Agg()
        rng = np.random.default_rng(self.seed)
        for k, x in enumerate(inputs_list):
            x = [as_float64(a) for a in x]
            if claim.f is not None:
                self._derivatives(claim, x, rng, agg, first=(k == 0))
        for p in claim.values:
            agg.add(self._printed(claim, p))
        for st in claim.statements:
            agg.add(self._statement(claim, st))
        return agg.records()

    def _base(self, claim, engine, check, **kw):
        return Record(claim=claim.id, section=claim.section, engine=engine, check=check,
                      reproduce=reproduce_line(claim), probe=claim.probe, **kw)

    def _derivatives(self, claim, x, rng, agg, first):
        f = claim.f
        n = int(sum(np.size(a) for a in x))
        at_kink = [k for k in claim.kinks if bool(np.any(k.at(*x)))]
        if at_kink:
            self._kinks(claim, x, at_kink, agg)
            return
        try:
            out = as_float64(f(np_xp, *x))
        except Exception as exc:  # noqa: BLE001 -- a broken claim gets a message, not a trace
            raise ClaimError(f"{claim.source}: claim {claim.id!r}: f cannot be evaluated with "
                             f"NumPy at {[a.tolist() for a in x]}: {type(exc).__name__}: "
                             f"{exc}") from exc
        v = [rng.standard_normal(np.shape(a)) for a in x]
        u = rng.standard_normal(np.shape(out))
        inputs = [summarize(a) for a in x]
        ref_j = self._reference("jvp", f, x, v, n)
        ref_v = self._reference("vjp", f, x, u, n)
        results = {eng.name: self._subject(claim, eng, x, v, u, ref_j, ref_v, inputs, agg, n)
                   for eng in self.subjects}
        # subjects that are two modes of one engine (ourad's): forward against reverse
        for a in self.subjects:
            for b in self.subjects:
                if a is not b and "jvp" in results[a.name] and "vjp" in results[b.name]:
                    agg.add(self._transpose(
                        claim, b.name, f"transpose against {a.name}", results[a.name]["jvp"],
                        results[b.name]["vjp"], u, v, inputs,
                        f"{a.name}'s JVP against {b.name}'s VJP, no reference involved"))
        for name, eng in self.oracles.items():
            for kind, w, ref in (("jvp", v, ref_j), ("vjp", u, ref_v)):
                if ref[0] is None or name in ref[2]:
                    continue
                res, err = _call(getattr(eng, kind), f, x, w)
                if err is not None:
                    agg.add(self._base(claim, name, kind, category="unsupported",
                                       inputs=inputs, detail=err[1]))
                    continue
                agg.add(self._compare(claim, name, kind, res, ref, inputs, n,
                                      bad="oracle-disagreement", fd=eng if name == "fd" else None))
        for name in {nm for r in (ref_j, ref_v) for nm in r[2]}:
            agg.add(self._base(claim, name, "reference", category="agree", inputs=inputs,
                               detail="this engine established or confirmed the reference"))
        if ref_j[0] is None or ref_v[0] is None:
            why = ref_j[3] or ref_v[3]
            agg.add(self._base(claim, "reference", "reference", category="inconclusive",
                               inputs=inputs, detail=why))
        self._notes_formula(claim, x, v, u, ref_j, ref_v, inputs, agg, n)
        if first and claim.jacobian and n * out.size <= JAC_MAX:
            for eng in self.subjects:
                agg.add(self._jacobian(claim, eng, x, out, inputs, n))

    def _subject(self, claim, eng, x, v, u, ref_j, ref_v, inputs, agg, n):
        results = {}
        for kind, w, ref in (("jvp", v, ref_j), ("vjp", u, ref_v)):
            if not _has(eng, kind):
                agg.add(self._base(claim, eng.name, kind, category="unsupported",
                                   inputs=inputs, detail=f"the engine has no {kind}"))
                continue
            res, err = _call(getattr(eng, kind), claim.f, x, w)
            if err is not None:
                cat = "unsupported" if err[0] == "unsupported" else "subject-defect"
                agg.add(self._base(claim, eng.name, kind, category=cat, inputs=inputs,
                                   detail=err[1]))
                continue
            results[kind] = res
            if ref[0] is None:
                agg.add(self._base(claim, eng.name, kind, category="inconclusive",
                                   inputs=inputs, detail=ref[3]))
                continue
            rec = self._compare(claim, eng.name, kind, res, ref, inputs, n, bad="subject-defect")
            if rec.category != "agree":
                rec.detail += "\n" + snippet(claim, eng.name, x, kind)
            agg.add(rec)
        if "jvp" in results and "vjp" in results:
            agg.add(self._transpose(claim, eng.name, "transpose", results["jvp"],
                                    results["vjp"], u, v, inputs,
                                    "the engine's own JVP against its own VJP, no reference "
                                    "involved"))
        return results

    def _transpose(self, claim, engine, check, jvp_res, vjp_res, u, v, inputs, detail):
        """<u, J v> from a JVP against <J^T u, v> from a VJP, to a few ulps of the terms."""
        lhs_t = as_float64(u) * as_float64(jvp_res[1])
        rhs_t = [as_float64(b) * as_float64(vv) for b, vv in zip(vjp_res[1], v)]
        lhs, rhs = float(np.sum(lhs_t)), float(sum(np.sum(t) for t in rhs_t))
        scale = float(np.sum(np.abs(lhs_t)) + sum(np.sum(np.abs(t)) for t in rhs_t))
        tol = OWN_ULPS * EPS * scale + 1e-300
        err = abs(lhs - rhs)
        return self._base(
            claim, engine, check, category="agree" if err <= tol else "subject-defect",
            max_abs_error=err, max_rel_error=err / max(abs(lhs), 1e-300), tolerance=tol,
            inputs=inputs, values={"<u, J v>": lhs, "<J^T u, v>": rhs}, detail=detail)

    def _compare(self, claim, engine, kind, res, ref, inputs, n, bad, fd=None):
        got = _flat(kind, res)
        want = _flat(kind, ref[0])
        if got.shape != want.shape:
            return self._base(claim, engine, kind, category=bad, inputs=inputs,
                              reference=ref[1], agreed=ref[2],
                              detail=f"shape {got.shape} where the reference has {want.shape}")
        diff = np.abs(got - want)
        floor = ref[4] if len(ref) > 4 else 0.0
        tol = ad_tolerance(want, got, n) + FLOOR_FACTOR * floor
        if fd is not None and fd.last is not None:   # fd is held to its own error estimate
            est = fd.last.error
            tol = tol + (np.concatenate([np.ravel(e) for e in est]) if kind == "vjp"
                         else np.ravel(as_float64(est)))
        ok = bool(np.all(diff <= tol)) and bool(np.all(np.isfinite(got) == np.isfinite(want)))
        err = float(np.max(diff, initial=0.0))
        scale = float(np.max(np.abs(want), initial=0.0))
        return self._base(
            claim, engine, kind, category="agree" if ok else bad, max_abs_error=err,
            max_rel_error=err / scale if scale else err, tolerance=float(np.max(tol, initial=0)),
            inputs=inputs, reference=ref[1], agreed=ref[2],
            values={"got": summarize(got), "reference": summarize(want)})

    def _notes_formula(self, claim, x, v, u, ref_j, ref_v, inputs, agg, n):
        for kind, formula, w, ref in (("jvp", claim.notes_jvp, v, ref_j),
                                      ("vjp", claim.notes_vjp, u, ref_v)):
            if formula is None:
                continue
            if ref[0] is None:
                agg.add(self._base(claim, "notes", f"notes-{kind}", category="inconclusive",
                                   inputs=inputs, detail=ref[3]))
                continue
            res, err = _call(formula, np_xp, w, *x)
            if err is not None:
                agg.add(self._base(claim, "notes", f"notes-{kind}", category="notes-erratum",
                                   inputs=inputs, detail=f"the formula cannot be evaluated: {err[1]}"))
                continue
            if kind == "vjp":   # entries the formula says nothing of (None) are not compared
                keep = [i for i, r in enumerate(res) if r is not None]
                res = (ref[0][0], tuple(as_float64(res[i]) for i in keep))
                refv = (ref[0][0], tuple(ref[0][1][i] for i in keep))
            else:
                res, refv = (ref[0][0], res), ref[0]
            rec = self._compare(claim, "notes", kind, res, (refv,) + tuple(ref[1:]), inputs,
                                n, bad="notes-erratum")
            rec.check = f"notes-{kind}"
            rec.detail = f"the notes' formula, as printed: {claim.printed}"
            agg.add(rec)

    def _kinks(self, claim, x, kinks, agg):
        inputs = [summarize(a) for a in x]
        for kink in kinks:
            v = [np.zeros_like(a) for a in x]
            v[kink.arg] = np.ones_like(x[kink.arg])
            u = np.ones_like(as_float64(claim.f(np_xp, *x)))
            for eng in list(self.subjects) + list(self.oracles.values()):
                is_subject = eng in self.subjects
                for kind, w in (("jvp", v), ("vjp", u)):
                    if not _has(eng, kind):
                        continue
                    res, err = _call(getattr(eng, kind), claim.f, x, w)
                    if err is not None:
                        cat = "unsupported" if err[0] == "unsupported" or not is_subject \
                            else "subject-defect"
                        agg.add(self._base(claim, eng.name, f"kink-{kind}", category=cat,
                                           inputs=inputs, detail=err[1]))
                        continue
                    d = float(np.sum(as_float64(res[1]))) if kind == "jvp" else \
                        float(np.sum(as_float64(res[1][kink.arg])))
                    bad = "subject-defect" if is_subject else "oracle-disagreement"
                    agg.add(self._kink_record(claim, eng.name, f"kink-{kind}", d, kink, inputs,
                                              bad))
            if claim.notes_jvp is not None:
                res, err = _call(claim.notes_jvp, np_xp, v, *x)
                if err is None:
                    agg.add(self._kink_record(claim, "notes", "notes-kink",
                                              float(np.sum(as_float64(res))), kink, inputs,
                                              "notes-erratum"))

    def _kink_record(self, claim, engine, check, d, kink, inputs, bad):
        inside = kink.lo - 1e-12 <= d <= kink.hi + 1e-12
        return self._base(
            claim, engine, check, category="kink-convention" if inside else bad, inputs=inputs,
            values={"derivative": d, "subdifferential": [kink.lo, kink.hi]},
            detail=f"at the kink {kink.text}: {engine} gives {d:g}; the subdifferential is "
                   f"[{kink.lo:g}, {kink.hi:g}]")

    def _jacobian(self, claim, eng, x, out, inputs, n):
        """The subject's full Jacobian by columns (JVP) and by rows (VJP), against the
        reference's by rows."""
        m = out.size
        ref = None
        for name in ("referee", "jax", "torch"):
            r = self.oracles.get(name)
            if r is None:
                continue
            rows, err = _call(_rows_by_vjp, r, claim.f, x, out.shape)
            if err is None:
                ref, ref_name = np.array(rows).reshape(m, n), name
                break
        if ref is None:
            return self._base(claim, eng.name, "jacobian", category="inconclusive",
                              inputs=inputs, detail="no oracle could form the Jacobian")
        mats = {}
        for kind in ("jvp", "vjp"):
            if not _has(eng, kind):
                continue
            if kind == "vjp":
                rows, err = _call(_rows_by_vjp, eng, claim.f, x, out.shape)
                J = None if err else np.array(rows).reshape(m, n)
            else:
                cols = []
                err = None
                zeros = [np.zeros_like(a) for a in x]
                for i, a in enumerate(x):
                    for e in basis(np.shape(a)):
                        ts = list(zeros)
                        ts[i] = e
                        res, err = _call(eng.jvp, claim.f, x, ts)
                        if err:
                            break
                        cols.append(np.ravel(as_float64(res[1])))
                    if err:
                        break
                J = None if err else np.array(cols).T.reshape(m, n)
            if J is None:
                cat = "unsupported" if err[0] == "unsupported" else "subject-defect"
                return self._base(claim, eng.name, "jacobian", category=cat, inputs=inputs,
                                  detail=err[1])
            mats[kind] = J
        if not mats:
            return self._base(claim, eng.name, "jacobian", category="unsupported",
                              inputs=inputs, detail="neither jvp nor vjp")
        worst, detail = 0.0, []
        tol = ad_tolerance(ref, ref, n)
        for kind, J in mats.items():
            e = float(np.max(np.abs(J - ref), initial=0.0))
            worst = max(worst, e)
            detail.append(f"by {'columns (JVP)' if kind == 'jvp' else 'rows (VJP)'}: "
                          f"max error {e:.3g}")
        scale = float(np.max(np.abs(ref), initial=0.0))
        return self._base(claim, eng.name, "jacobian",
                          category="agree" if worst <= tol else "subject-defect",
                          max_abs_error=worst, max_rel_error=worst / scale if scale else worst,
                          tolerance=tol, inputs=inputs, reference=ref_name, agreed=[ref_name],
                          values={"reference": summarize(ref, 16)}, detail="; ".join(detail))

    # --- printed values and cost statements -------------------------------------------------

    def _printed(self, claim, p):
        val, err = _call(p.compute, self.context)
        if err is not None:
            return self._base(claim, "notes", f"printed: {p.label}", category="inconclusive",
                              detail=f"{p.label}: could not compute: {err[1]}")
        val = float(val)
        diff = abs(val - p.value)
        tol = p.half_ulp + 1e-12
        return self._base(
            claim, "notes", f"printed: {p.label}",
            category="agree" if diff <= tol else "notes-erratum",
            max_abs_error=diff, max_rel_error=diff / abs(val) if val else diff, tolerance=tol,
            reference=getattr(self.context.reference, "name", None),
            values={"printed": p.text, "computed": val},
            detail=f"{p.label}: printed {p.text}, computed {val:.6g} "
                   f"(half a unit of the printed last place: {p.half_ulp:g})")

    def _statement(self, claim, st):
        check = f"{st.kind}: {st.label}"
        measured, err = _call(st.measure, self.context)
        if err is not None:
            return self._base(claim, "notes", check, category="inconclusive",
                              detail=f"could not measure: {err[1]}")
        ok, err2 = _call(st.holds, measured)
        if err2 is not None:
            return self._base(claim, "notes", check, category="inconclusive",
                              detail=f"could not decide: {err2[1]}")
        return self._base(claim, "notes", check, category="agree" if ok else "notes-erratum",
                          values={"printed": st.text, "measured": measured},
                          detail=f"the notes say {st.text!r}; measured {measured}"
                                 + (f". Reading: {st.reading}" if st.reading else ""))


def _rows_by_vjp(engine, f, x, out_shape):
    """The rows of the Jacobian, one VJP per output entry, each flattened over all inputs."""
    return [np.concatenate([np.ravel(b) for b in engine.vjp(f, x, e)[1]])
            for e in basis(out_shape)]


def _flat(kind, res):
    if kind == "jvp":
        return np.ravel(as_float64(res[1]))
    return np.concatenate([np.ravel(as_float64(b)) for b in res[1]]) if len(res[1]) else \
        np.zeros(0)


def _close(kind, a, b, n):
    x, y = _flat(kind, a), _flat(kind, b)
    return x.shape == y.shape and bool(np.all(np.abs(x - y) <= ad_tolerance(x, y, n)))


def draw_inputs(claim: Claim, max_examples: int | None = None) -> list:
    """Inputs drawn from the claim's domain by Hypothesis, under the active settings profile
    (`ci`: derandomized, so the same commit draws the same inputs), at most `claim.examples`.
    Explicit points of the domain (`include=`) come first."""
    from hypothesis import HealthCheck, Phase, given, settings
    if claim.domain is None:
        return []
    n = max_examples or settings().max_examples
    if claim.examples is not None:
        n = min(n, claim.examples)
    out = []

    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(claim.domain)
    def collect(x):
        out.append(tuple(x))

    try:
        collect()
    except Exception as exc:  # noqa: BLE001 -- Unsatisfiable, a broken strategy, ...
        raise ClaimError(f"{claim.source}: claim {claim.id!r}: its domain drew no input "
                         f"({type(exc).__name__}: {exc})") from exc
    if not out:
        raise ClaimError(f"{claim.source}: claim {claim.id!r}: its domain drew no input")
    return out[:n]


def quick_check(engine, f, primals, seed: int = 0, fd=None) -> Record:
    """The cheapest honest check of an engine's VJP, the counterpart of gradcheck's fast mode:
    one VJP along a random cotangent u, one finite-difference directional derivative along a
    random direction v (a handful of evaluations of f, whatever the number of inputs), and
    <J^T u, v> against <u, J v> within fd's own error estimate plus AD tolerance."""
    from .fd import FiniteDifferences
    fd = fd or FiniteDifferences()
    rng = np.random.default_rng(seed)
    x = [as_float64(a) for a in primals]
    n = int(sum(a.size for a in x))
    out = as_float64(f(np_xp, *x))
    u = rng.standard_normal(out.shape)
    v = [rng.standard_normal(a.shape) for a in x]
    base = dict(claim="quick-check", section="", engine=engine.name, check="vjp")
    res, err = _call(engine.vjp, f, x, u)
    if err is not None:
        return Record(**base, category="unsupported" if err[0] == "unsupported"
                      else "subject-defect", detail=err[1])
    est = fd.directional(f, x, v)
    lhs = float(sum(np.sum(as_float64(b) * vv) for b, vv in zip(res[1], v)))
    rhs = float(np.sum(u * as_float64(est.value)))
    tol = float(np.sum(np.abs(u) * as_float64(est.error))) + ad_tolerance(lhs, rhs, n)
    return Record(**base, category="agree" if abs(lhs - rhs) <= tol else "subject-defect",
                  max_abs_error=abs(lhs - rhs), max_rel_error=abs(lhs - rhs) / max(abs(rhs), 1e-300),
                  tolerance=tol, reference="fd", agreed=["fd"],
                  values={"<J^T u, v>": lhs, "<u, fd J v>": rhs},
                  detail=f"{est.evaluations} evaluations of f")
