"""One conformance run: its engines, its records, the gate and the files it writes. The pytest
plugin (`oracles.plugin`) hands everything to an `AdSession`; nothing here imports pytest."""
from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from . import ORACLES, available, engine, threads
from .calls import guard_exit
from .claims import Claim
from .gate import BaselineError, apply_gate, coverage, load_baseline
from .harness import Harness, draw_inputs
from .reproduce import RunOptions
from .verdict import CATEGORIES, HARNESS, Record
from .writing import (RECORDS_SO_FAR, ReportWriteError, append_records,
                      write_report_dir, write_unfinished)

ROOT = Path(__file__).resolve().parent.parent


class UsageError(ValueError):
    """A bad option: one line naming the option, the value and what is wrong."""


def load_subject(spec: str) -> list:
    """`ourad` (both modes) or `MODULE:ATTR`, an object (or class) with the Engine shape.
    Raises UsageError with one line saying what is wrong."""
    if spec in ("ourad", ""):
        return [engine("ourad-forward"), engine("ourad-reverse")]
    if spec in ("ourad-forward", "ourad-reverse"):
        return [engine(spec)]
    where = f"--ad-subject {spec!r}"
    if spec.count(":") != 1 or not all(spec.split(":")):
        raise UsageError(f"{where}: expected MODULE:ATTR (e.g. my_engine:Engine)")
    module, attr = spec.split(":")
    try:
        mod = _import_subject(module)
    except (KeyboardInterrupt, UsageError):
        raise
    except BaseException as exc:  # noqa: BLE001 -- SystemExit at import too
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name == module.split(".")[0]:
            hint = (" (Python looks in the working directory and on PYTHONPATH: run from the "
                    "folder that holds it, add that folder to PYTHONPATH, or give the file's "
                    "path, --ad-subject path/to/my_engine.py:Engine)")
        raise UsageError(f"{where}: cannot import {module!r}: {type(exc).__name__}: "
                         f"{exc}{hint}") from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{where}: module {module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001
            hint = (f" (ATTR may name an instance too: `engine = {attr}(...)` in the module, "
                    "then MODULE:engine)") if isinstance(exc, TypeError) else ""
            raise UsageError(f"{where}: {attr}() raised {type(exc).__name__}: "
                             f"{exc}{hint}") from None
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where}: the engine needs a `name` string (has {name!r})")
    if name in ORACLES or name in ("notes", "reference", HARNESS):
        raise UsageError(f"{where}: the engine's name {name!r} is taken by the harness; "
                         "choose another")
    if not (callable(getattr(obj, "jvp", None)) or callable(getattr(obj, "vjp", None))):
        raise UsageError(f"{where}: the engine has neither jvp nor vjp (both absent or None)")
    if getattr(obj, "xp", None) is None:
        raise UsageError(f"{where}: the engine's `xp` is missing or None; it must be the "
                         "namespace its jvp and vjp hand the formulas")
    return [obj]


def _import_subject(module: str):
    """A module by its name, or a `.py` file by its path: the file's folder goes first on
    sys.path (as `python my_engine.py` would put it, so that its imports of its neighbours
    work, in pytest-xdist's workers too) and the file is imported under its own name."""
    if not module.endswith(".py"):
        return importlib.import_module(module)
    path = Path(module).expanduser().resolve()
    if not path.is_file():
        raise UsageError(f"--ad-subject {module!r}...: no such file ({path})")
    taken = sys.modules.get(path.stem)
    if taken is not None:
        if Path(getattr(taken, "__file__", "") or "").resolve() == path:
            return taken
        raise UsageError(f"--ad-subject {module!r}...: a module named {path.stem!r} is "
                         f"imported already (from {getattr(taken, '__file__', 'built-in')}); "
                         "rename the file")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    return importlib.import_module(path.stem)


def check_oracles(names) -> None:
    unknown = [n for n in names if n not in ORACLES]
    if unknown:
        raise UsageError(f"--ad-oracles {','.join(names)!r}: unknown oracle(s) "
                         f"{', '.join(map(repr, unknown))}; known: {', '.join(ORACLES)}")


UNFINISHED = (f"the run did not finish: it is still running, or its process ended before "
              f"writing the report (an engine's crash, a kill, a time limit); the records "
              f"of the claims that ran are in {RECORDS_SO_FAR}, one per line")


class AdSession:
    def __init__(self, options: RunOptions | None = None, report_dir=None, baseline=None,
                 previous_json=None, subjects=None):
        self.options = options or RunOptions()
        guard_exit()   # the subject's code runs in this process from now on
        self.oracle_names = list(self.options.oracles or ORACLES)
        check_oracles(self.oracle_names)
        # absolute now: an engine that changes directory must not move the report
        self.report_dir = Path(report_dir or default_report_dir()).absolute()
        from .catalogue import ERRATA
        self.baseline_path = Path(baseline or ERRATA)
        self.previous_json = previous_json
        self.records: list[dict] = []
        self.ran: list[str] = []
        self.claims: dict[str, Claim | None] = {}
        self._subjects = subjects
        self._harness = None
        self.skipped_oracles: dict[str, str] = {}
        self.received_facts: dict | None = None
        self.selected: int | None = None    # the claims the run selected, where known
        self.stopped: str | None = None     # why the run ended early ("interrupted"), if it did
        self.result = self.gate = None
        self._previous = None   # (--ad-baseline-json's report or None, why not), once read
        self._so_far = None   # an unfinished run's records file, open (start)
        self.run_warnings: list[str] = []   # said in the summary's warnings

    def validate(self, claim_ids=None):
        """Everything that can be told wrong before a claim runs: raises UsageError."""
        if self._subjects is None:
            self._subjects = load_subject(self.options.subject)
        dtypes = tuple(self.options.dtypes)
        if not dtypes or set(dtypes) - {"float64", "float32"} or "float64" not in dtypes:
            raise UsageError(f"--ad-dtypes {','.join(dtypes)!r}: expected float64 or "
                             "float64,float32 (float64 makes the references)")
        try:
            self.baseline = load_baseline(self.baseline_path, claim_ids)
        except BaselineError as exc:
            raise UsageError(f"--ad-baseline: {exc}") from None

    @property
    def harness(self) -> Harness:
        if self._harness is None:
            if self._subjects is None:
                self._subjects = load_subject(self.options.subject)
            avail = available()
            oracles = {}
            for name in self.oracle_names:
                if avail[name] is True:
                    oracles[name] = engine(name)
                else:
                    self.skipped_oracles[name] = avail[name]
            self._harness = Harness(self._subjects, oracles, seed=self.options.seed,
                                    timeout=self.options.timeout, options=self.options)
            threads.apply(self.options.threads)   # the engines are loaded now
        return self._harness

    # --- running ----------------------------------------------------------------------------

    def check(self, claim: Claim) -> list[dict]:
        """The records of one claim; never raises (a failure becomes a record)."""
        harness = self.harness   # loaded before the first draw: see Harness.__init__
        threads.apply(self.options.threads)   # what the last claim imported, if anything
        try:
            inputs = draw_inputs(claim, self.options.examples, self.options.profile) \
                if claim.f is not None else []
        except Exception as exc:  # noqa: BLE001 -- a ClaimError names file and claim
            return [Record(claim.id, claim.section, HARNESS, "claim", "claim-error",
                           detail=str(exc), probe=claim.probe).to_dict()]
        return [r.to_dict() for r in harness.run_claim(claim, inputs)]

    def start(self) -> str | None:
        """A conformance run's start, in the process that writes the report: reads the
        report --ad-baseline-json names (it may be the one about to be replaced), then
        writes the unfinished run's report (`writing.write_unfinished`), to which `add`
        appends each claim's records as they come. Returns why it could not, or None."""
        self._baseline_report()   # read now: it may be the report about to be replaced
        summary = {"gate": "fail", "gate_reasons": [UNFINISHED], "unfinished": True,
                   "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                       timespec="seconds"),
                   "subject": self.options.subject, "options": self.options.args(),
                   "seed": self.options.seed, "pid": os.getpid()}
        try:
            self._so_far = write_unfinished(self.report_dir, summary)
        except ReportWriteError as exc:
            self.run_warnings.append(f"the unfinished run's report was not written: {exc}")
            return str(exc)
        return None

    def add(self, claim_id: str, records: list[dict]):
        self.records.extend(records)
        self.ran.append(claim_id)
        self.claims.setdefault(claim_id, None)
        if self._so_far is not None:
            try:
                append_records(self._so_far, records)
            except (OSError, ValueError) as exc:   # (ValueError: closed)
                self._close_so_far()
                self.run_warnings.append(f"records were not kept in {RECORDS_SO_FAR} as the "
                                         f"run went: {getattr(exc, 'strerror', None) or exc}")

    def _close_so_far(self):
        if self._so_far is not None:
            try:
                self._so_far.close()
            except OSError:
                pass
            self._so_far = None

    # --- the verdict --------------------------------------------------------------------------

    def finish(self, write=True) -> dict:
        baseline = getattr(self, "baseline", None)
        if baseline is None:
            baseline = load_baseline(self.baseline_path)
        gate = apply_gate(self.records, baseline, self.ran, self.options.strict,
                          selected=self.selected, stopped=self.stopped)
        counts = Counter(r["category"] for r in self.records)
        previous_error = self._baseline_report()[1]
        # a run that ended early asks the engines nothing more (the extras call them)
        facts = self.received_facts or self.facts(extras=not self.stopped)
        summary = {
            "gate": gate.verdict,
            "gate_reasons": gate.reasons,
            "counts": {c: counts.get(c, 0) for c in CATEGORIES},
            "failures": len(gate.failures),
            "coverage": coverage(self.records),
            "warnings": _warnings(self.records, facts["roles"], self.options.dtypes) +
            self.run_warnings,
            "stale_baseline": [{"claim": b.claim, "check": b.check,
                                "explanation": b.explanation} for b in gate.stale],
            "subject": self.options.subject,
            "subjects": facts["subjects"],
            "oracles": facts["oracles"],
            "roles": facts["roles"],
            "oracles_skipped": facts["oracles_skipped"],
            "options": self.options.args(),
            "versions": facts["versions"],
            "threads": facts.get("threads"),
            "seed": self.options.seed,
            "hypothesis_profile": self.options.profile,
            "examples": self.options.examples,
            "strict": self.options.strict,
            "claims_run": len(set(self.ran)),
            "claims_selected": self.selected,
            "report_error": previous_error,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": _git_commit(),
        }
        result = {"summary": summary, "records": sorted(
            self.records, key=lambda r: (r["section"], r["claim"], r["engine"], r["check"],
                                         r.get("dtype", "float64"))),
            "claims": {cid: _claim_info(c) for cid, c in self.claims.items() if c is not None},
            "extras": facts["extras"]}
        self.result, self.gate = result, gate
        if write:
            self.write(result)
        return result

    def facts(self, extras=True) -> dict:
        """What the summary and the report's pictures say about the engines that ran the
        claims: their names, versions and roles, the oracles skipped, the packages' versions,
        and the extras (trace tables, fd curves, kinks, costs). Computed where the engines
        are loaded: by the conformance run's `test_facts`, in whichever process runs it,
        which hands them to the controller (`received_facts`) with its report; under
        pytest-xdist the controller then never imports JAX or PyTorch. `extras=False` leaves
        the extras out (a run that ended early)."""
        h = self.harness
        return {"subjects": [{"name": e.name, "version": str(getattr(e, "version", "") or "")}
                             for e in h.subjects],
                "oracles": {name: str(getattr(e, "version", "")) for name, e in
                            h.oracles.items()},
                "roles": dict(h.roles), "oracles_skipped": dict(self.skipped_oracles),
                "versions": _versions(), "threads": threads.report(),
                "extras": _extras(h) if extras else {}}

    def write(self, result):
        """results.json and index.html, moved into place together; raises ReportWriteError
        with one line naming the path and the reason."""
        self._close_so_far()   # the finished report replaces it
        write_report_dir(self.report_dir, result, self._baseline_report()[0])

    def _baseline_report(self) -> tuple:
        """(--ad-baseline-json's report or None, why it could not be read or None), read
        once: at the start of a run (`start`), else when the verdict is made. A report of
        an unfinished run is said in the warnings."""
        if self._previous is None:
            previous, error = None, None
            if self.previous_json:
                try:
                    previous = json.loads(Path(self.previous_json).read_text())
                except (OSError, ValueError) as exc:
                    error = f"--ad-baseline-json: {exc}"
            if isinstance(previous, dict) and previous.get("summary", {}).get("unfinished"):
                self.run_warnings.append(
                    f"--ad-baseline-json {self.previous_json} is an unfinished run's report "
                    "(no records): every discrepancy counts as new against it")
            self._previous = previous, error
        return self._previous


def default_report_dir() -> Path:
    """reports/latest inside this project's checkout; ad-report/ anywhere else (a directory
    named like no importable package, so it cannot shadow one)."""
    cwd = Path.cwd()
    if (cwd / "reports" / "writer.py").is_file() and (cwd / "oracles").is_dir():
        return cwd / "reports" / "latest"
    return cwd / "ad-report"


def _claim_info(c: Claim) -> dict:
    return {"id": c.id, "section": c.section, "printed": c.printed, "reading": c.reading,
            "condition": c.condition, "probe": c.probe, "source": c.source}


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _versions() -> dict:
    from . import packages
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in [p for p in packages() if p not in ("numpy", "ourad")] + ["hypothesis"]:
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = None
    return out


_LACKS = re.compile(r"has no (?:op )?'(\w+)'")


def _warnings(records, roles: dict, dtypes) -> list[str]:
    """What the counts leave unsaid, in words, for the terminal, the summary and the page:
    the names the subject's namespace lacks (its checks there are `unsupported`, and a run
    where a subject answers little can still pass), and float32 checks that could not fail
    (without a float32 answer from an AD oracle a difference beyond rounding is
    inconclusive)."""
    out = []
    lacks = Counter(m.group(1) for r in records
                    if r.get("subject") and r["category"] == "unsupported"
                    for m in [_LACKS.search(r.get("detail") or "")] if m)
    if lacks:
        out.append(f"the subject's namespace lacks {', '.join(sorted(lacks))}: "
                   f"{sum(lacks.values())} check(s) unsupported for it")
    if "float32" in dtypes and "ad" not in roles.values():
        out.append("no AD oracle (jax, torch) ran: a float32 derivative beyond rounding is "
                   "inconclusive, never a failure")
    return out


def _extras(harness) -> dict:
    """What the report draws beside the records: the trace tables, the fd error curves, the
    kink table and the cost table. Cheap; computed once on the controller."""
    from . import extras
    return extras.collect(harness)


__all__ = ["AdSession", "UsageError", "load_subject", "ReportWriteError",
           "default_report_dir"]
