"""The conformance harness: runs a claim through the subject and every oracle, point by point,
and collects the records its checks yield. The pytest plugin (`oracles.plugin`) only hands
claims and options to a `Harness` and collects its records.

The runner is a short loop: draw the points, establish the reference at each
(`oracles.reference`), and hand a `Point` to every check of `oracles.checks`; each check is a
module with the same small interface (`applies(claim)`, `run(run, point)` or `run(run)`,
yielding records). Whatever goes wrong inside the harness on a claim becomes a record of that
claim (`harness-error`), so no claim's records are ever lost.
"""
from __future__ import annotations

import importlib
import traceback
from dataclasses import dataclass, field

import numpy as np

from . import role as role_of
from .calls import answer, call, fmt, has_mode, keeps_inputs
from .claims import Claim, ClaimFileError
from .fd import xp as np_xp
from .namespace import reset_used, std, used
from .reference import Reference, ad_tolerance, establish, flat, measure
from .reproduce import RunOptions, reproduce_line, snippet
from .verdict import HARNESS, SEVERITY, Record


class ClaimError(ClaimFileError):
    """A claim that cannot be checked as written (its function or its domain is broken)."""


def summarize(a, limit=8):
    """A short, JSON-friendly picture of an array: the values if small, else shape and head."""
    a = np.asarray(a, dtype=float)
    if a.size <= limit:
        return a.tolist()
    return {"shape": list(a.shape), "head": a.ravel()[:limit].tolist()}


class Aggregate:
    """The worst verdict of each (engine, check, dtype) over the drawn points."""

    def __init__(self):
        self.worst: dict[tuple, Record] = {}
        self.count: dict[tuple, int] = {}
        self.failing: dict[tuple, list] = {}    # the points where it was a subject defect

    def add(self, rec: Record):
        key = (rec.engine, rec.check, rec.dtype)
        self.count[key] = self.count.get(key, 0) + 1
        if rec.category == "subject-defect" and hasattr(rec, "_at"):
            self.failing.setdefault(key, []).append(rec._at.index)
        old = self.worst.get(key)
        if old is None or (SEVERITY[rec.category], _num(rec.max_rel_error)) > (
                SEVERITY[old.category], _num(old.max_rel_error)):
            self.worst[key] = rec

    def records(self) -> list[Record]:
        for key, rec in self.worst.items():
            rec.n_points = self.count[key]
            rec._failing = self.failing.get(key, [])
        return list(self.worst.values())


def _num(v):
    return v if isinstance(v, float) and v == v else (float("inf") if v is not None else 0.0)


@dataclass
class Context:
    """What a printed value or a statement about cost is computed with."""
    reference: object                  # the most trusted engine available
    engines: dict                      # every engine by name, subjects and oracles
    subjects: list


@dataclass
class Point:
    """One drawn input and everything the checks share there."""
    x: list
    n: int                             # input entries, all inputs together
    out: np.ndarray                    # f at x, evaluated with NumPy
    v: list                            # the random tangents
    u: np.ndarray                      # the random cotangent
    inputs: list                       # x summarised for the records
    first: bool                        # the claim's first point without a kink
    kinks: list                        # the claim's kinks that hold at x
    tangents: list                     # each kink's tangent at x (`Kink.tangent`)
    ref: dict = field(default_factory=dict)      # "jvp"/"vjp" -> Reference
    answers: dict = field(default_factory=dict)  # (engine, kind) -> validated answer
    index: int = 0                     # which of the claim's drawn points
    _v_abs_sum: float | None = None

    def v_abs_sum(self) -> float:
        """The sum of |v| over every tangent entry (made once per point)."""
        if self._v_abs_sum is None:
            self._v_abs_sum = float(sum(np.sum(np.abs(vv)) for vv in self.v))
        return self._v_abs_sum


class ClaimRun:
    """One claim going through the harness: its formula (seen through the standard names),
    and the helpers every check uses to call engines and make records."""

    def __init__(self, harness: "Harness", claim: Claim):
        self.harness, self.claim = harness, claim
        self.f = std(claim.f) if claim.f is not None else None
        self.reproduce = reproduce_line(claim, harness.options)

    def record(self, engine: str, check: str, category: str, **kw) -> Record:
        kw.setdefault("subject", engine in self.harness.subject_names)
        return Record(claim=self.claim.id, section=self.claim.section, engine=engine,
                      check=check, category=category, reproduce=self.reproduce,
                      probe=self.claim.probe, **kw)

    def ask(self, eng, kind, x, w, out_shape, seen=None):
        """An engine's validated answer: (answer, names of ours it used, None) or
        (None, names, Fault); `seen` as `calls.answer`'s."""
        reset_used()
        ans, fault = answer(eng, kind, self.f, x, w, out_shape, self.harness.timeout, seen)
        return ans, sorted(used()), fault

    def snippet(self, engine, point, kind, note: str = "") -> str:
        return snippet(self.claim, engine, self.harness.options, point, kind, note)


class Harness:
    """Checks claims. `subjects` are the engines under test; `oracles` the references by
    name; `options` what the run was started with (for the reproduce lines)."""

    def __init__(self, subjects, oracles: dict, seed: int = 0, timeout: float | None = 60.0,
                 options: RunOptions | None = None):
        # Every module a claim's run imports is imported here, before any claim draws its
        # inputs: Hypothesis mixes the constants of the project's imported modules into its
        # draws, so a claim draws the same inputs whether it is the first of its process (a
        # pytest-xdist worker's, a `-k` run's) or not.
        # (`extras` and `kinks` too: the run's facts, which `test_facts` computes beside the
        # claims, use them)
        for module in ("blame", "checks", "extras", "kinks", "catalogue.coverage_map",
                       "catalogue.readings"):
            importlib.import_module(f"{__package__}.{module}")
        self.subjects = list(subjects)
        self.subject_names = {e.name for e in self.subjects}
        self.oracles = dict(oracles)
        self.roles = {name: role_of(name) for name in self.oracles}
        self.sampler = _sampler(self.subjects, self.roles)
        self.seed, self.timeout = seed, timeout
        # built without options (the library's own use), a harness does not shrink
        self.options = options or RunOptions(seed=seed, shrink=0)
        pref = sorted(self.oracles, key=lambda nm: ("referee", "ad", "numeric").index(
            self.roles[nm]) if self.roles[nm] in ("referee", "ad", "numeric") else 9)
        ref = self.oracles[pref[0]] if pref else None
        engines = {e.name: e for e in self.subjects}
        engines.update(self.oracles)
        self.context = Context(ref, engines, self.subjects)

    def run_claim(self, claim: Claim, points) -> list[Record]:
        """Every check of `claim` at every point; never raises: a failure of the harness or
        of the claim becomes a record."""
        from . import checks
        agg = Aggregate()
        run = ClaimRun(self, claim)
        for eng in (*self.subjects, *self.oracles.values()):   # (the harness's own engines)
            if keeps_inputs(eng) and hasattr(eng, "begin"):
                eng.begin(claim.id)
        try:
            rng = np.random.default_rng(self.seed)
            run.n_points = len(points)
            smooth = False   # a point without a kink came (the kink points come first)
            for k, x in enumerate(points):
                point = self.point(run, [np.asarray(a, np.float64) for a in x], rng,
                                   not smooth)
                smooth = smooth or point.first
                point.index = k
                for check in checks.PER_POINT:
                    if check.applies(claim, point):
                        for rec in check.run(run, point):
                            agg.add(rec)
            for check in checks.PER_CLAIM:
                if check.applies(claim):
                    for rec in check.run(run):
                        agg.add(rec)
        except ClaimFileError as exc:
            agg.add(run.record(HARNESS, "claim", "claim-error", detail=str(exc)))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- never lose the claim's records
            agg.add(run.record(HARNESS, "harness", "harness-error",
                               detail=f"{type(exc).__name__}: {exc}\n"
                                      + "".join(traceback.format_exc(limit=-8))))
        records = agg.records()
        _shrink(run, records, points)
        _localise(run, records)
        return records

    def point(self, run: ClaimRun, x, rng, first, kinds=("jvp", "vjp")) -> Point:
        """The point at `x`: its kinks, f there, the random tangents and cotangent, and the
        reference of each of `kinds` (none where a kink holds). `first`: no point without a
        kink came before it (the point is then the claim's first unless a kink holds)."""
        claim = run.claim
        kinks, tangents = [], []
        for kink in claim.kinks:
            hit, fault = call(kink.at, *x)
            if fault is not None:
                raise ClaimError(f"{claim.source}: claim {claim.id!r}: Kink.at raised at "
                                 f"{[a.tolist() for a in x]}: {fault.message}")
            if bool(np.any(hit)):
                try:
                    tangents.append(kink.tangent(x))
                except (ValueError, TypeError) as exc:
                    raise ClaimError(f"{claim.source}: claim {claim.id!r}: the tangent of the "
                                     f"kink {kink.text!r} (arg={kink.arg!r}) does not fit the "
                                     f"inputs {[np.shape(a) for a in x]}: {exc}") from None
                kinks.append(kink)
        try:
            out = np.asarray(run.f(np_xp, *x), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 -- a broken claim gets a message, not a trace
            raise ClaimError(f"{claim.source}: claim {claim.id!r}: f cannot be evaluated with "
                             f"NumPy at {[a.tolist() for a in x]}: {type(exc).__name__}: "
                             f"{exc}") from exc
        v = [rng.standard_normal(np.shape(a)) for a in x]
        u = rng.standard_normal(np.shape(out))
        p = Point(x, int(sum(np.size(a) for a in x)), out, v, u,
                  [summarize(a) for a in x], first and not kinks, kinks, tangents)
        if not kinks:
            memo = {}
            for kind in kinds:
                w = v if kind == "jvp" else u
                p.ref[kind] = establish(kind, run.f, x, w, out.shape, self.oracles,
                                        self.roles, self.seed, self.timeout, along=v,
                                        memo=memo, sampler=self.sampler)
        return p


def _sampler(subjects, roles: dict):
    """What measures the float64 floor where no AD oracle runs (`reference._sampled_floor`):
    ourad's reverse mode, unless ourad is a subject (it would excuse its own error), and
    only where neither JAX nor PyTorch is an oracle (they measure it then)."""
    from .ourad_engines import OuradForward, OuradReverse
    if "ad" in roles.values() or any(isinstance(e, (OuradForward, OuradReverse))
                                     for e in subjects):
        return None
    return OuradReverse()


def _shrink(run: ClaimRun, records, points) -> None:
    """The simplest failing input of each subject's failing derivative or value check
    (`oracles.shrink`); a failure of the shrinking is said in the record, never raised."""
    from .shrink import shrink_records, wanted
    try:
        shrink_records(run, records, points)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 -- the record stands without its shrunk input
        for rec in records:
            if wanted(rec) and rec.shrunk is None and "not shrunk:" not in rec.detail:
                rec.detail += f"\nnot shrunk: {type(exc).__name__}: {exc}"


def _localise(run: ClaimRun, records) -> None:
    """Blame each subject defect of a derivative check on a primitive (`oracles.blame`); a
    failure of the localisation is said in the record, never raised."""
    from .blame import localise_records, wanted
    try:
        localise_records(run, records)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 -- the record stands without its blame
        for rec in records:
            if wanted(rec) and rec.blame is None:
                rec.detail += f"\nnot localised: {type(exc).__name__}: {exc}"


def compare(run: ClaimRun, engine, check, got: np.ndarray, ref: Reference, point: Point,
            bad: str, extra_tol=0.0, **kw) -> Record:
    """`got` (flat) against the reference's derivative: shapes, non-finite entries, then
    values within AD tolerance (plus `extra_tol`, e.g. fd's own error estimate)."""
    want = ref.flat()
    detail = kw.pop("detail", "")
    common = dict(inputs=point.inputs, reference=ref.source, agreed=list(ref.agreed), **kw)
    if got.shape != want.shape:
        return run.record(engine, check, bad, detail=f"{got.size} entries where the reference "
                          f"has {want.size}", **common)
    want_top = ref.top()
    tol = ad_tolerance(want, got, point.n, want_top) + 4 * ref.floor + extra_tol
    ok, err, rel, nonfinite = measure(got, want, tol, want_top)
    if nonfinite:
        detail = (detail + "\n" if detail else "") + nonfinite
    return run.record(engine, check, "agree" if ok else bad, max_abs_error=err,
                      max_rel_error=rel,
                      tolerance=float(np.max(tol, initial=0.0)),
                      values={"got": summarize(got), "reference": summarize(want)},
                      detail=detail, **common)


# The seed of every draw under the `ci` profile. Hypothesis's derandomized mode derived it from
# the text of draw_inputs' test function; it is written out so that the drawing can be run
# again to shrink a failure (oracles.shrink) and so that editing that function's text no
# longer moves every claim's inputs. A commit draws what the commits before it drew.
CI_SEED = int("579dee662530acd3abe762d1d47f89c8691e8c8102ba8784"
              "b9f5e253cf0e5f27c8bc2b6450c2f3a6ef49a9977947a7ce", 16)


class Drawn(list):
    """The inputs `draw_inputs` drew, with what draws them again: the number of examples
    asked for and the seed."""

    def __init__(self, inputs, n: int, seed: int):
        super().__init__(inputs)
        self.n, self.seed = n, seed


def examples_of(claim: Claim, max_examples: int | None, profile: str) -> int:
    """How many inputs a claim draws: the option, else the profile's, capped by the claim."""
    n = max_examples or (8 if profile == "ci" else 500)
    return min(n, claim.examples) if claim.examples is not None else n


def seed_of(profile: str) -> int:
    """CI_SEED under `ci` (the same commit draws the same inputs), else a fresh one."""
    import random
    return CI_SEED if profile == "ci" else random.getrandbits(64)


RUNNER = ("pytest", "_pytest", "xdist", "execnet", "pluggy", "iniconfig")


def runner_not_local() -> None:
    """Hypothesis mixes the numeric constants of the "local" modules a process has imported
    (files outside site-packages and the standard library) into its draws. pytest-xdist's
    remote workers (`--tx ssh=...`) import pytest itself from the directory it was copied to,
    where it counts as local, so they drew other inputs than the controller. The test
    runner's own packages, and the report writer (`reports`, beside this package), are never
    counted as local here, wherever they were imported from; nothing changes where they lie
    in site-packages. Installed once per process (the plugin does it when it collects the
    claims, before any test of the process draws), and only where Hypothesis has the hook."""
    import os
    import sys
    try:
        from hypothesis.internal.conjecture import providers
        local = providers.is_local_module_file
    except (ImportError, AttributeError):
        return
    if getattr(local, "runner_excluded", False):
        return
    roots = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                  for m in map(sys.modules.get, RUNNER) if getattr(m, "__file__", None))
    # and the report writer beside this package, which `test_facts` may import before the
    # claims of its process draw (it draws the page's pictures) and no other process does
    roots += (os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "reports") + os.sep,)

    def is_local(path):
        return not os.path.abspath(path).startswith(roots) and local(path)

    is_local.runner_excluded = True
    providers.is_local_module_file = is_local


def given_domain(claim: Claim, n: int, seed: int, phases, body) -> None:
    """`body(x)` on inputs Hypothesis draws from the claim's domain with `seed`. Drawing and
    shrinking (`oracles.shrink`) both come through here: with one seed, both meet the same
    inputs in the same order until the body first fails."""
    from hypothesis import HealthCheck, Verbosity, given, settings
    from hypothesis import seed as seeded
    runner_not_local()

    @seeded(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=phases,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              verbosity=Verbosity.quiet)
    @given(claim.domain)
    def drawn(x):
        body(x)

    drawn()


def draw_inputs(claim: Claim, max_examples: int | None = None, profile: str = "ci") -> list:
    """Inputs drawn from the claim's domain by Hypothesis, at most `claim.examples`. Under
    the `ci` profile the seed is CI_SEED, so the same commit draws the same inputs; under
    another it is drawn here, and kept (`Drawn.seed`) for shrinking to draw them again.
    Explicit points of the domain (`include=`) come first."""
    from hypothesis import Phase
    if claim.domain is None:
        return []
    n = examples_of(claim, max_examples, profile)
    seed = seed_of(profile)
    out: list = []
    try:
        given_domain(claim, n, seed, [Phase.generate], lambda x: out.append(tuple(x)))
    except Exception as exc:  # noqa: BLE001 -- Unsatisfiable, a broken strategy, ...
        raise ClaimError(f"{claim.source}: claim {claim.id!r}: its domain drew no input "
                         f"({type(exc).__name__}: {exc})") from exc
    if not out:
        raise ClaimError(f"{claim.source}: claim {claim.id!r}: its domain drew no input")
    return Drawn(out[:n], n, seed)


def quick_check(engine, f, primals, seed: int = 0, fd=None) -> Record:
    """The cheapest honest check of an engine's VJP, the counterpart of gradcheck's fast mode:
    one VJP along a random cotangent u, one finite-difference directional derivative along a
    random direction v (a handful of evaluations of f, whatever the number of inputs), and
    <J^T u, v> against <u, J v> within fd's own error estimate plus AD tolerance."""
    from .fd import FiniteDifferences
    fd = fd or FiniteDifferences()
    rng = np.random.default_rng(seed)
    x = [np.asarray(a, np.float64) for a in primals]
    n = int(sum(a.size for a in x))
    out = np.asarray(f(np_xp, *x), np.float64)
    u = rng.standard_normal(out.shape)
    v = [rng.standard_normal(a.shape) for a in x]
    base = dict(claim="quick-check", section="", engine=engine.name, check="vjp")
    if not has_mode(engine, "vjp"):
        return Record(**base, category="unsupported", detail="the engine has no vjp")
    res, fault = answer(engine, "vjp", f, x, u, out.shape)
    if fault is not None:
        return Record(**base, category=fault.category, detail=fault.message)
    est = fd.directional(f, x, v)
    lhs = float(sum(np.sum(b * vv) for b, vv in zip(res[1], v)))
    rhs = float(np.sum(u * np.asarray(est.value, float)))
    tol = float(np.sum(np.abs(u) * np.asarray(est.error, float))) + ad_tolerance(lhs, rhs, n)
    ok = abs(lhs - rhs) <= tol
    return Record(**base, category="agree" if ok else "subject-defect",
                  max_abs_error=abs(lhs - rhs),
                  max_rel_error=abs(lhs - rhs) / max(abs(rhs), 1e-300),
                  tolerance=tol, reference="fd", agreed=["fd"],
                  values={"<J^T u, v>": lhs, "<u, fd J v>": rhs},
                  detail=f"{est.evaluations} evaluations of f; {fmt(lhs)} against {fmt(rhs)}")


__all__ = ["Harness", "ClaimRun", "Point", "Record", "compare", "draw_inputs", "quick_check",
           "summarize", "ClaimError", "flat"]
