"""The verdict schema, one home for it: the categories a record can fall in, their severity and
meaning, which of them fail the gate, and the Record with its JSON form.

The harness writes records, the gate judges them, the report writer and its template render
them; all of them read this module and none re-derives a verdict. It imports nothing beyond
the standard library, so the report writer can use it without numpy, pytest or any oracle.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any


@dataclass(frozen=True)
class Category:
    name: str
    severity: int          # the worst of several verdicts of one (engine, check) stands
    meaning: str
    gate: str              # when it fails the gate, in words (for the report and the README)


CATEGORY_LIST = (
    Category("agree", 1, "the value matches the reference within the check's tolerance", "no"),
    Category("subject-defect", 7, "the engine under test differs from the reference at a "
             "differentiable point, raised, timed out or answered something malformed", "yes"),
    Category("notes-erratum", 7, "a formula, printed value or statement of the notes differs "
             "from the reference", "yes, unless listed in the errata baseline or a probe "
             "(a listed one that no longer reproduces fails too)"),
    Category("claim-error", 8, "the claim file is at fault: a transcription that cannot be "
             "evaluated, returns the wrong arity, or a printed value that is not a number",
             "yes"),
    Category("harness-error", 8, "the harness itself failed on this claim (a bug of ours); "
             "the traceback is in the record", "yes"),
    Category("oracle-disagreement", 5, "an oracle differs from the reference", "no"),
    Category("kink-convention", 2, "at a non-differentiable point, a value inside the "
             "subdifferential the claim declares", "no"),
    Category("unsupported", 3, "the engine lacks the op, the mode or the size",
             "no (yes under --ad-strict, for the subject)"),
    Category("inconclusive", 4, "no reference could be established", "no"),
)
CATEGORIES = tuple(c.name for c in CATEGORY_LIST)
BY_NAME = {c.name: c for c in CATEGORY_LIST}
SEVERITY = {c.name: c.severity for c in CATEGORY_LIST}
ALWAYS_FAILS = ("subject-defect", "claim-error", "harness-error")

PRIMITIVES = "Primitives"  # the generated section: every primitive the catalogue uses, alone

# engine roles, as records name them
NOTES = "notes"            # the engine name of records about the notes' own formulas/values
HARNESS = "harness"        # records of claim-file and harness errors


@dataclass
class Record:
    """One verdict: a claim, an engine, a check, the worst of its drawn points."""
    claim: str
    section: str
    engine: str
    check: str
    category: str
    dtype: str = "float64"         # the precision the engine was asked in
    returned_dtype: str | None = None   # the type its derivative came back in, where recorded
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
    subject: bool = False          # a record of an engine in the subject's seat
    n_points: int = 1              # drawn inputs this (engine, check) met
    baselined: bool = False
    explanation: str = ""
    blame: dict | None = None
    shrunk: dict | None = None     # the simplest input where the check still fails (shrink)
    namespace: list = field(default_factory=list)   # harness-defined names the engine used

    def __post_init__(self):
        if self.category not in BY_NAME:
            raise ValueError(f"unknown category {self.category!r}")

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def blame_line(b: dict) -> str:
    """A record's blame in one line: "divide, d/d(argument 1), reverse mode, at (1.5, 0.5):
    got -6.0, want 6.0"; for a fault of composition, the first wrong intermediate."""
    mode = "reverse mode" if b.get("mode") == "vjp" else "forward mode"
    got, want = short(b.get("got")), short(b.get("want"))
    if got == want:      # a small relative error: enough digits to see it
        got, want = short(b.get("got"), digits=17), short(b.get("want"), digits=17)
    if b.get("op") == "composition":
        what = "adjoint" if b.get("mode") == "vjp" else "tangent"
        return (f"composition, {mode}: every primitive agrees alone; first wrong {what}: "
                f"{b.get('step', '?')}, at {b.get('at', b.get('inputs'))}: got {got}, "
                f"want {want}")
    arg = "" if b.get("argument") is None or len(b.get("inputs") or ()) < 2 else \
        f", d/d(argument {b['argument']})"
    return f"{b.get('op')}{arg}, {mode}, at {b.get('at', b.get('inputs'))}: got {got}, want {want}"


def check_label(rec: dict) -> str:
    """A record's check with the precision it was asked in where that is not float64, and
    the type the engine answered in where that differs: "vjp in float32 (answered in
    float64)"."""
    label = rec.get("check", "?")
    dtype, got = rec.get("dtype") or "float64", rec.get("returned_dtype")
    if dtype != "float64":
        label += f" in {dtype}"
    if got and got != dtype:
        label += f" (answered in {got})"
    return label


def short(v, limit=4, digits=6) -> str:
    """A value of a record in a few characters: numbers to `digits`, the first `limit`
    entries of a list, an array summary by its shape and head."""
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, list):
        flat = _flatten(v)
        if all(isinstance(e, (int, float)) for e in flat):
            inner = ", ".join(f"{e:.{digits}g}" for e in flat[:limit])
            return "[" + inner + (", ..." if len(flat) > limit else "") + "]"
    if isinstance(v, dict) and "shape" in v:
        return f"array of shape {tuple(v['shape'])} starting " \
            f"{short(v.get('head', []), digits=digits)}"
    return str(v)


def _flatten(v):
    if isinstance(v, list):
        return [e for x in v for e in _flatten(x)]
    return [v]


def is_failure(rec: dict, strict: bool = False) -> bool:
    """Whether a record (as a dict) fails the gate."""
    cat = rec["category"]
    if cat in ALWAYS_FAILS:
        return True
    if cat == "notes-erratum":
        return not rec.get("baselined") and not rec.get("probe")
    return strict and cat == "unsupported" and bool(rec.get("subject"))


def worst(categories) -> str:
    return max(categories, key=lambda c: SEVERITY.get(c, 0))


def jsonable(x):
    """Plain JSON values: numpy scalars and arrays become numbers and lists (duck-typed, so
    this module needs no numpy), non-finite floats the strings "nan", "inf", "-inf"."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
        return jsonable(x.tolist())
    if isinstance(x, bool) or x is None or isinstance(x, (str, int)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    return str(x)


RECORDS_SO_FAR = "records-so-far.jsonl"   # an unfinished run's records, one per line


def unfinished_page(summary: dict) -> str:
    """The page of a run that has not finished (`summary["unfinished"]`): its failing verdict,
    why, and where its records so far are; self-contained, every string escaped."""
    reason = (summary.get("gate_reasons") or ["the run did not finish"])[0]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>AD conformance: "
            "unfinished run</title></head><body><h1 class=\"verdict fail\">AD conformance: "
            "FAIL (unfinished)</h1><p>" + escape(str(reason)) + "</p><p>Started "
            + escape(str(summary.get("started", ""))) + "; subject "
            + escape(str(summary.get("subject", ""))) + "; the records so far: "
            f"<a href='{RECORDS_SO_FAR}'>{RECORDS_SO_FAR}</a> (one JSON record per line)."
            "</p></body></html>\n")
