"""The CI gate: which records fail the run, and the baseline of known errata of the notes.

The verdict is computed once, here, from the records; the terminal, results.json, the HTML
report and the exit status are renderings of it."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .verdict import is_failure


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message names the path (and line)."""


@dataclass
class BaselineEntry:
    claim: str
    check: str
    explanation: str


_KEYS = {"claim", "check", "explanation"}


def load_baseline(path, claim_ids=None) -> list[BaselineEntry]:
    """Known errata: a TOML file of [[erratum]] tables with claim, check and explanation
    (strings). A missing file, a syntax error, an unknown table or key, a wrong type, or (given
    `claim_ids`) an entry for a claim that does not exist raise `BaselineError`."""
    path = Path(path)
    if not path.is_file():
        raise BaselineError(f"{path}: no such baseline file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BaselineError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot be read: {exc}") from None
    unknown = set(data) - {"erratum"}
    if unknown:
        raise BaselineError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}; "
                            "expected [[erratum]] entries only")
    entries = data.get("erratum", [])
    if not isinstance(entries, list):
        raise BaselineError(f"{path}: 'erratum' must be an array of tables ([[erratum]])")
    out = []
    for i, e in enumerate(entries):
        where = f"{path}: erratum #{i + 1}"
        if not isinstance(e, dict):
            raise BaselineError(f"{where}: must be a table")
        missing, extra = _KEYS - set(e), set(e) - _KEYS
        if missing:
            raise BaselineError(f"{where} lacks {', '.join(sorted(missing))}")
        if extra:
            raise BaselineError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        for k in sorted(_KEYS):
            if not isinstance(e[k], str) or not e[k].strip():
                raise BaselineError(f"{where}: {k} must be a non-empty string, not "
                                    f"{e[k]!r}")
        if claim_ids is not None and e["claim"] not in claim_ids:
            raise BaselineError(f"{where}: no claim has the id {e['claim']!r}")
        out.append(BaselineEntry(e["claim"], e["check"], e["explanation"].strip()))
    return out


@dataclass
class GateResult:
    verdict: str                      # "pass" or "fail"
    failures: list = field(default_factory=list)   # records that fail the gate
    stale: list = field(default_factory=list)      # baseline entries that no longer reproduce
    reasons: list = field(default_factory=list)    # why it fails, in words


def mark_baselined(records: list[dict], baseline: list[BaselineEntry]) -> None:
    known = {(b.claim, b.check): b for b in baseline}
    for r in records:
        b = known.get((r["claim"], r["check"]))
        if r["category"] == "notes-erratum" and b is not None:
            r["baselined"] = True
            r["explanation"] = b.explanation


def coverage(records: list[dict]) -> dict:
    """How many of the subject's checks were answered (anything but "unsupported")."""
    mine = [r for r in records if r.get("subject")]
    answered = sum(r["category"] != "unsupported" for r in mine)
    return {"answered": answered, "total": len(mine)}


def apply_gate(records: list[dict], baseline: list[BaselineEntry], ran_claims,
               strict: bool = False, selected: int | None = None,
               stopped: str | None = None) -> GateResult:
    """`selected`: how many claims the run selected (None where unknown); `stopped`: why the
    run ended before its end ("interrupted", "stopping after 1 failures"), None where it did
    not. Fewer claims run than selected fail the gate, and the reason says how many ran."""
    mark_baselined(records, baseline)
    failures = [r for r in records if is_failure(r, strict)]
    seen = {(r["claim"], r["check"]) for r in records if r["category"] == "notes-erratum"}
    ran = set(ran_claims)
    stale = [b for b in baseline if b.claim in ran and (b.claim, b.check) not in seen]
    reasons = []
    short = _not_all_ran(len(ran), selected, stopped)
    if short:
        reasons.append(short)
    if failures:
        reasons.append(f"{len(failures)} failing record(s)")
    if stale:
        reasons.append(f"{len(stale)} stale baseline entr{'y' if len(stale) == 1 else 'ies'}")
    cov = coverage(records)
    if cov["total"] and not cov["answered"]:
        reasons.append("nothing was verified: the subject answered none of its "
                       f"{cov['total']} checks")
    return GateResult("fail" if reasons else "pass", failures, stale, reasons)


def _not_all_ran(ran: int, selected: int | None, stopped: str | None) -> str | None:
    """Why a run that did not run all it selected, or that ended early, fails (None if not).
    A run stopped after all its claims ran fails too: its exit status says it was stopped."""
    lead = f"{stopped}: " if stopped else ""
    if selected == 0 and not ran:
        return "no claim was selected (-k, -m or the paths given matched none): nothing was " \
               "checked"
    if selected is not None and ran < selected:
        return f"{lead}{ran} of {selected} claims ran; the rest were not checked"
    if stopped and selected is None:
        return f"{lead}{ran} claim(s) ran; any others selected were not checked"
    if stopped:
        return f"{stopped} after all {ran} claims ran"
    return None
