"""One conformance run: its engines, its records, the gate and the files it writes. The pytest
hooks in tests/conftest.py hand everything to an `AdSession`; nothing here imports pytest."""
from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np

from . import available, engine
from .claims import Claim
from .gate import apply_gate, load_baseline
from .harness import CATEGORIES, Harness, draw_inputs

DEFAULT_ORACLES = ("jax", "torch", "fd", "referee")
ROOT = Path(__file__).resolve().parent.parent


def load_subject(spec: str) -> list:
    """`ourad` (both modes) or `MODULE:ATTR`, an object (or class) with the Engine shape."""
    if spec in ("ourad", ""):
        return [engine("ourad-forward"), engine("ourad-reverse")]
    if spec in ("ourad-forward", "ourad-reverse"):
        return [engine(spec)]
    if ":" not in spec:
        raise ValueError(f"--ad-subject {spec!r}: expected MODULE:ATTR")
    module, attr = spec.split(":", 1)
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, type):
        obj = obj()
    if not isinstance(getattr(obj, "name", None), str):
        raise ValueError(f"--ad-subject {spec}: the engine needs a `name` string")
    if not (callable(getattr(obj, "jvp", None)) or callable(getattr(obj, "vjp", None))):
        raise ValueError(f"--ad-subject {spec}: the engine has neither jvp nor vjp")
    return [obj]


class AdSession:
    def __init__(self, subject="ourad", oracles=None, report_dir=None, baseline=None,
                 seed=0, examples=None, profile="ci", previous_json=None):
        self.subject_spec = subject
        self.oracle_names = list(oracles) if oracles else list(DEFAULT_ORACLES)
        self.report_dir = Path(report_dir or ROOT / "reports" / "latest")
        self.baseline_path = Path(baseline or ROOT / "tests" / "notes" / "errata.toml")
        self.seed, self.examples, self.profile = seed, examples, profile
        self.previous_json = previous_json
        self.records: list[dict] = []
        self.claims: dict[str, Claim] = {}
        self._harness = None
        self.skipped_oracles: dict[str, str] = {}

    # --- engines ----------------------------------------------------------------------------

    @property
    def harness(self) -> Harness:
        if self._harness is None:
            avail = available()
            oracles = {}
            for name in self.oracle_names:
                if name not in avail:
                    raise ValueError(f"--ad-oracles: unknown oracle {name!r}; "
                                     f"known: {', '.join(DEFAULT_ORACLES)}")
                if avail[name] is True:
                    oracles[name] = engine(name)
                else:
                    self.skipped_oracles[name] = avail[name]
            self._harness = Harness(load_subject(self.subject_spec), oracles, seed=self.seed)
        return self._harness

    # --- running ----------------------------------------------------------------------------

    def check(self, claim: Claim) -> list[dict]:
        inputs = draw_inputs(claim, self.examples) if claim.f is not None else []
        return [r.to_dict() for r in self.harness.run_claim(claim, inputs)]

    def add(self, records: list[dict]):
        self.records.extend(records)

    # --- the verdict --------------------------------------------------------------------------

    def finish(self, ran_claims, write=True) -> dict:
        baseline = load_baseline(self.baseline_path)
        gate = apply_gate(self.records, baseline, ran_claims)
        counts = Counter(r["category"] for r in self.records)
        summary = {
            "counts": {c: counts.get(c, 0) for c in CATEGORIES},
            "gate": gate.verdict,
            "failures": len(gate.failures),
            "stale_baseline": [{"claim": b.claim, "check": b.check,
                                "explanation": b.explanation} for b in gate.stale],
            "subject": self.subject_spec,
            "subjects": [e.name for e in self.harness.subjects],
            "oracles": {name: getattr(e, "version", "") for name, e in
                        self.harness.oracles.items()},
            "oracles_skipped": self.skipped_oracles,
            "versions": _versions(),
            "seed": self.seed,
            "hypothesis_profile": self.profile,
            "examples": self.examples,
            "claims_run": len(set(ran_claims)),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": _git_commit(),
        }
        result = {"summary": summary, "records": sorted(
            self.records, key=lambda r: (r["section"], r["claim"], r["engine"], r["check"])),
            "claims": {cid: _claim_info(c) for cid, c in self.claims.items()},
            "extras": _extras(self.harness)}
        if write:
            self.report_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.report_dir / "results.json",
                          json.dumps(result, indent=1, default=str))
            try:
                from reports import write_report
                previous = json.loads(Path(self.previous_json).read_text()) \
                    if self.previous_json else None
                write_report(result, self.report_dir / "index.html", previous=previous)
            except ImportError as exc:   # the report extra is not installed: JSON only
                summary["report_error"] = str(exc)
        self.result, self.gate = result, gate
        return result


def _claim_info(c: Claim) -> dict:
    return {"id": c.id, "section": c.section, "printed": c.printed, "reading": c.reading,
            "condition": c.condition, "probe": c.probe, "source": c.source}


def _atomic_write(path: Path, text: str):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _versions() -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("jax", "torch", "mpmath", "hypothesis"):
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = None
    return out


def _extras(harness) -> dict:
    """What the report draws beside the records: the trace tables, the fd error curves, the
    kink table and the cost table. Cheap; computed once on the controller."""
    from . import extras
    return extras.collect(harness)
