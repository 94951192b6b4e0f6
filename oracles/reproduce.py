"""How to rerun what failed: the command line that carries every option that shaped the
result, and a Python snippet that rebuilds the subject and recomputes the failing number."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import numpy as np

SHRINK_CALLS = 100     # re-checks per failing record that shrinking may spend (--ad-shrink)


@dataclass
class RunOptions:
    """The options a conformance run was started with (those that shape its results)."""
    subject: str = "ourad"
    oracles: tuple = ()            # () means the default oracles
    formulas: tuple = ()
    seed: int = 0
    examples: int | None = None
    profile: str = "ci"
    timeout: float | None = 60.0
    strict: bool = False
    dtypes: tuple = ("float64", "float32")
    shrink: int = SHRINK_CALLS     # 0: no shrinking
    threads: int = 1               # of each numerical library (oracles.threads); 0: theirs
    extra: dict = field(default_factory=dict)

    def args(self) -> list[str]:
        out = ["--ad-subject", self.subject]
        if self.oracles:
            out += ["--ad-oracles", ",".join(self.oracles)]
        for path in self.formulas:
            out += ["--ad-formulas", str(path)]
        if self.seed:
            out += ["--ad-seed", str(self.seed)]
        if self.examples is not None:
            out += ["--ad-examples", str(self.examples)]
        if self.profile != "ci":
            out += ["--ad-profile", self.profile]
        if self.timeout != 60.0:
            out += ["--ad-timeout", "0" if not self.timeout else f"{self.timeout:g}"]
        if self.strict:
            out.append("--ad-strict")
        if tuple(self.dtypes) != ("float64", "float32"):
            out += ["--ad-dtypes", ",".join(self.dtypes)]
        if self.shrink != SHRINK_CALLS:
            out += ["--ad-shrink", str(self.shrink)]
        if self.threads != 1:
            out += ["--ad-threads", str(self.threads)]
        return out


def reproduce_line(claim, options: RunOptions) -> str:
    """`ad-conformance -k '<id>' ...`, runnable from the directory the run was started in.
    pytest's `-k` matches substrings, so the claims whose ids contain this one are excluded
    (`-k 'op-max and not op-maximum'`): the line runs this claim alone."""
    others = [i for i in CLAIM_IDS if i != claim.id and claim.id.lower() in i.lower()]
    expr = " and not ".join([claim.id] + others)
    return " ".join(["ad-conformance", "-k", shlex.quote(expr)]
                    + [shlex.quote(a) for a in options.args()])


# the ids of the run's claims in the catalogue's order, set by the plugin when it collects
# them (`know_claims`), so that a line reads the same in every process; outside a conformance
# run, a line names its claim alone
CLAIM_IDS: list = []


def know_claims(ids) -> None:
    CLAIM_IDS[:] = ids


def _literal(a) -> str:
    return f"np.array({np.asarray(a).tolist()!r})"


def snippet(claim, engine: str, options: RunOptions, point, kind: str, note: str = "") -> str:
    """Copy-pasteable Python that rebuilds the subject from its spec and recomputes one
    result at the point's input, tangents and cotangent, with a reference beside it; `note`
    is a comment line at the top (which input this is)."""
    extra = f", extra={list(map(str, options.formulas))!r}" if options.formulas else ""
    lines = [f"# {note}"] if note else []
    lines += ["import numpy as np", "import oracles",
             "from oracles.claims import find_claim",
             "from oracles.namespace import std",
             "from oracles.session import load_subject",
             f"claim = find_claim({claim.id!r}{extra})",
             "f = std(claim.f)",
             f"subject = {{e.name: e for e in load_subject({options.subject!r})}}[{engine!r}]",
             f"x = [{', '.join(_literal(a) for a in point.x)}]"]
    small = point.n + np.size(point.u) <= 256
    if not small:
        lines.append("rng = np.random.default_rng(0)  # the run's own draw is too large to print")
    ref = next(iter(getattr(point.ref.get(kind), "agreed", None) or []), "referee")
    if kind == "jvp":
        lines.append(f"v = [{', '.join(_literal(a) for a in point.v)}]" if small else
                     "v = [rng.standard_normal(np.shape(a)) for a in x]")
        lines += ["got = np.asarray(subject.jvp(f, x, v)[1]).tolist()",
                  f"want = np.asarray(oracles.engine({ref!r}).jvp(f, x, v)[1]).tolist()"]
    else:
        lines.append(f"u = {_literal(point.u)}" if small else
                     "u = rng.standard_normal(np.shape(f(oracles.engine('fd').xp, *x)))")
        lines += ["got = [np.asarray(c).tolist() for c in subject.vjp(f, x, u)[1]]",
                  f"want = [np.asarray(c).tolist() for c in "
                  f"oracles.engine({ref!r}).vjp(f, x, u)[1]]"]
    lines += ["print('subject:  ', got)", f"print('reference:', want)  # {ref}"]
    return "\n".join(lines)
