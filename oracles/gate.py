"""The CI gate: which records fail the run, and the baseline of known errata of the notes."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class BaselineEntry:
    claim: str
    check: str
    explanation: str


def load_baseline(path) -> list[BaselineEntry]:
    """Known errata: a TOML file of [[erratum]] tables with claim, check and explanation."""
    path = Path(path)
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    out = []
    for i, e in enumerate(data.get("erratum", [])):
        missing = {"claim", "check", "explanation"} - set(e)
        if missing:
            raise ValueError(f"{path}: erratum #{i + 1} lacks {', '.join(sorted(missing))}")
        out.append(BaselineEntry(e["claim"], e["check"], e["explanation"].strip()))
    return out


@dataclass
class GateResult:
    verdict: str                      # "pass" or "fail"
    failures: list = field(default_factory=list)   # records that fail the gate
    stale: list = field(default_factory=list)      # baseline entries that no longer reproduce


def is_failure(rec: dict) -> bool:
    """A subject defect always fails; a notes erratum fails unless baselined or a probe."""
    if rec["category"] == "subject-defect":
        return True
    return rec["category"] == "notes-erratum" and not rec.get("baselined") \
        and not rec.get("probe")


def mark_baselined(records: list[dict], baseline: list[BaselineEntry]) -> None:
    known = {(b.claim, b.check): b for b in baseline}
    for r in records:
        b = known.get((r["claim"], r["check"]))
        if r["category"] == "notes-erratum" and b is not None:
            r["baselined"] = True
            r["explanation"] = b.explanation


def apply_gate(records: list[dict], baseline: list[BaselineEntry], ran_claims) -> GateResult:
    mark_baselined(records, baseline)
    failures = [r for r in records if is_failure(r)]
    seen = {(r["claim"], r["check"]) for r in records if r["category"] == "notes-erratum"}
    ran = set(ran_claims)
    stale = [b for b in baseline if b.claim in ran and (b.claim, b.check) not in seen]
    return GateResult("fail" if failures or stale else "pass", failures, stale)
