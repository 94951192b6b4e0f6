"""The pytest plugin of conformance runs, registered through the `pytest11` entry point, so the
`--ad-*` options exist wherever the package is installed. The hooks are thin: state lives in
one `AdSession` in `config.stash`; records ride on each test's report (`user_properties`), so
`pytest -n 2` merges them on the controller, which alone writes the report.

A run is a conformance run when it collects the catalogue's test (`ad-conformance`,
`pytest tests/notes`, `pytest --pyargs oracles.catalogue`). Options are validated at start
when any `--ad-*` option is given: a bad one is one line and exit status 4.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys

import pytest

_KEY = pytest.StashKey()
_RECORDS = "ad_records"
_FACTS = "ad_facts"
_DEFAULT_TIMEOUT = 60.0
_SHRINK_CALLS = 100    # oracles.reproduce.SHRINK_CALLS, for --help (the plugin loads light)


def pytest_addoption(parser):
    g = parser.getgroup("ad-harness", "AD conformance harness (ad-conformance, pytest tests/notes)")
    g.addoption("--ad-subject", metavar="MODULE:ATTR", default="ourad",
                help="the engine under test, any object (or class) with the Engine protocol "
                     "(default: ourad, its forward and reverse modes each a subject)")
    g.addoption("--ad-oracles", metavar="NAMES", default=None,
                help="comma-separated oracles among jax, torch, fd, referee (default: all "
                     "of them; a missing package is skipped with its reason)")
    g.addoption("--ad-formulas", metavar="PATH", action="append", default=[],
                help="a claim file to add to the catalogue (repeatable; default: none)")
    g.addoption("--ad-report-dir", metavar="DIR", default=None,
                help="where results.json and index.html go (default: reports/latest in this "
                     "project's checkout, else ad-report/ in the working directory)")
    g.addoption("--ad-baseline", metavar="TOML", default=None,
                help="the known errata of the notes (default: the catalogue's errata.toml)")
    g.addoption("--ad-baseline-json", metavar="PATH", default=None,
                help="a previous run's results.json, to report new, fixed and unchanged "
                     "discrepancies (default: none)")
    g.addoption("--ad-seed", metavar="N", type=int, default=0,
                help="seed of the random tangents and cotangents (default: %(default)s)")
    g.addoption("--ad-examples", metavar="N", type=int, default=None,
                help="inputs drawn per claim (default: 8 under the ci profile, 500 under "
                     "thorough)")
    g.addoption("--ad-profile", metavar="NAME", choices=("ci", "thorough"), default=None,
                help="ci (derandomized: the same commit draws the same inputs) or thorough "
                     "(default: $HYPOTHESIS_PROFILE, else ci)")
    g.addoption("--ad-timeout", metavar="SECONDS", type=float, default=_DEFAULT_TIMEOUT,
                help="time limit of one call of the subject; past it the call is a "
                     "subject defect and the run goes on; 0 for none (default: %(default)s)")
    g.addoption("--ad-shrink", metavar="N", type=int, default=None,
                help="checks Hypothesis may spend shrinking the input of each failing "
                     "JVP, VJP or value record of the subject to the simplest that still "
                     "fails; 0 turns shrinking off (default: %d)" % _SHRINK_CALLS)
    g.addoption("--ad-strict", action="store_true", default=False,
                help="fail the gate on any check the subject leaves unsupported "
                     "(default: off)")
    g.addoption("--ad-dtypes", metavar="NAMES", default="float64,float32",
                help="the precisions the subject is asked in, among float64 and float32 "
                     "(default: %(default)s)")
    g.addoption("--ad-threads", metavar="N", type=int, default=1,
                help="threads of PyTorch and of the BLAS and OpenMP libraries in each process "
                     "of the run (under -n, in each worker); 0 leaves the libraries' own "
                     "choice (default: %(default)s)")


def _explicit(config) -> bool:
    opts = ("ad_subject", "ad_oracles", "ad_formulas", "ad_report_dir", "ad_baseline",
            "ad_baseline_json", "ad_seed", "ad_examples", "ad_profile", "ad_strict",
            "ad_shrink", "ad_dtypes", "ad_threads")
    defaults = {"ad_subject": "ourad", "ad_formulas": [], "ad_seed": 0, "ad_strict": False,
                "ad_dtypes": "float64,float32", "ad_threads": 1}
    return any(config.getoption(o) != defaults.get(o) for o in opts) or \
        config.getoption("ad_timeout") != _DEFAULT_TIMEOUT or \
        os.environ.get("AD_CONFORMANCE") == "1"


def _make_session(config):
    from .reproduce import SHRINK_CALLS, RunOptions
    from .session import AdSession, UsageError
    profile = config.getoption("ad_profile") or os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if profile not in ("ci", "thorough"):
        profile = "ci"
    oracles = config.getoption("ad_oracles")
    shrink = config.getoption("ad_shrink")
    if shrink is not None and shrink < 0:
        raise UsageError(f"--ad-shrink {shrink}: expected a number of checks, 0 or more")
    examples = config.getoption("ad_examples")
    if examples is not None and examples < 1:
        raise UsageError(f"--ad-examples {examples}: expected a number of inputs, 1 or more")
    seed = config.getoption("ad_seed")
    if seed < 0:
        raise UsageError(f"--ad-seed {seed}: expected a seed, 0 or more")
    threads = config.getoption("ad_threads")
    if threads < 0:
        raise UsageError(f"--ad-threads {threads}: expected a number of threads, 1 or more, "
                         "or 0 for the libraries' own choice")
    timeout = config.getoption("ad_timeout")
    if not (math.isfinite(timeout) and timeout >= 0):
        raise UsageError(f"--ad-timeout {timeout:g}: expected seconds, a finite number, 0 for "
                         "no limit")
    if oracles is not None and not oracles.strip(" ,"):
        raise UsageError(f"--ad-oracles {oracles!r}: expected comma-separated names among "
                         "jax, torch, fd, referee")
    previous = config.getoption("ad_baseline_json")
    if previous is not None and _is_controller(config):   # (a remote worker has no copy)
        _readable_results(previous)
    report_dir = config.getoption("ad_report_dir")
    if report_dir is not None and _is_controller(config):   # the controller alone writes it
        _writable_report_dir(report_dir)
    opts = RunOptions(
        subject=config.getoption("ad_subject"),
        oracles=tuple(s.strip() for s in oracles.split(",") if s.strip()) if oracles else (),
        formulas=tuple(config.getoption("ad_formulas")), seed=seed,
        examples=config.getoption("ad_examples"), profile=profile,
        timeout=config.getoption("ad_timeout") or None, strict=config.getoption("ad_strict"),
        dtypes=tuple(s.strip() for s in config.getoption("ad_dtypes").split(",") if s.strip()),
        shrink=SHRINK_CALLS if shrink is None else shrink, threads=threads)
    return AdSession(opts, report_dir=report_dir,
                     baseline=config.getoption("ad_baseline"),
                     previous_json=config.getoption("ad_baseline_json"))


def _readable_results(path):
    """--ad-baseline-json names a results.json that can be read, as --ad-baseline names a
    baseline that can (a run that cannot compare should not start)."""
    from .session import UsageError
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--ad-baseline-json {path}: cannot read it: {exc}") from None
    if not isinstance(data, dict) or "records" not in data or "summary" not in data:
        raise UsageError(f"--ad-baseline-json {path}: not a results.json (it needs "
                         "'summary' and 'records')")


def _writable_report_dir(path):
    """--ad-report-dir names a directory the report can be written to, checked before the
    run rather than found after it (a run that cannot report should not start)."""
    from .session import UsageError
    from .writing import ReportWriteError, check_report_dir
    if not path.strip():
        raise UsageError(f"--ad-report-dir {path!r}: expected a directory")
    try:
        check_report_dir(path)
    except ReportWriteError as exc:
        raise UsageError(f"--ad-report-dir {path}: {exc}") from None


def _state(config) -> dict:
    return config.stash.setdefault(_KEY, {"session": None, "claims": None, "ran": False,
                                          "failed": {}, "selected": None, "stopped": None,
                                          "crashed": {}})


def session_of(config):
    st = _state(config)
    if st["session"] is None:
        from .session import UsageError
        try:
            st["session"] = _make_session(config)
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None
    return st["session"]


def _catalogue(config):
    st = _state(config)
    if st["claims"] is None:
        from .claims import ClaimFileError, load_catalogue
        try:
            st["claims"] = load_catalogue(config.getoption("ad_formulas"))
        except ClaimFileError as exc:
            raise pytest.UsageError(f"--ad-formulas: {exc}") from None
    return st["claims"]


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if not _explicit(config):
        return
    from .session import UsageError
    ad = session_of(config)
    claims = _catalogue(config)
    try:
        ad.validate(claim_ids={c.id for c in claims})
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc):
    if "ad_claim" in metafunc.fixturenames:
        from .harness import runner_not_local
        runner_not_local()   # at collection, before any test of the process draws
        claims = _catalogue(metafunc.config)
        from .reproduce import know_claims
        know_claims(c.id for c in claims)   # for reproduce lines that select one claim
        metafunc.parametrize("ad_claim", claims, ids=[c.id for c in claims])


@pytest.fixture
def ad_session(request):
    return session_of(request.config)


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def _claim_of(nodeid: str):
    return nodeid.rsplit("[", 1)[1][:-1] if "test_claim[" in nodeid else None


def pytest_runtest_logreport(report):
    config = _CONFIG.get("config")
    if config is None or not _is_controller(config):
        return
    for name, value in (report.user_properties if report.when == "call" else ()):
        if name == _FACTS:   # test_facts, in whichever process ran it
            ad = session_of(config)
            if ad.received_facts is None:
                ad.received_facts = json.loads(value)
    cid = _claim_of(report.nodeid)
    if report.failed and report.when == "???":   # pytest-xdist: the worker's process died
        _state(config)["crashed"][report.nodeid] = report.longreprtext[-3000:]
        return
    if cid is None:
        return
    st = _state(config)
    got = False
    for name, value in (report.user_properties if report.when == "call" else ()):
        if name == _RECORDS:
            data = json.loads(value)
            session_of(config).add(data["claim"], data["records"])
            st["ran"] = got = True
    if report.failed and not got and report.when in ("setup", "call"):
        st["failed"][cid] = report.longreprtext[-3000:]


_CONFIG: dict = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    _CONFIG["config"] = session.config


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Under pytest-xdist the controller collects nothing: the claims a run selected are
    those a worker collected (each collects the same)."""
    n = len({_claim_of(i) for i in ids} - {None})   # a claim collected twice is one claim
    if n:
        st = _state(node.config)
        st["selected"] = max(st["selected"] or 0, n)
        _start(node.config)


def pytest_collection_finish(session):
    if _is_controller(session.config) and any(_claim_of(item.nodeid)
                                              for item in session.items):
        _start(session.config)


def _start(config):
    """Once claims are about to run, the controller replaces the report directory's
    previous report with an unfinished run's (`AdSession.start`), so that a run whose
    process dies (an engine's crash serially) leaves a failing report, and the records so
    far, rather than the previous verdict beside its exit status."""
    st = _state(config)
    opt = config.option
    if st.get("started") or opt.collectonly or getattr(opt, "setupplan", False) or \
            getattr(opt, "setuponly", False):   # (runs that run no test)
        return
    st["started"] = True
    session_of(config).start()


def pytest_keyboard_interrupt(excinfo):
    """Ctrl-C, an engine's KeyboardInterrupt (under pytest-xdist, a worker's), or a stop
    (pytest-xdist's -x, pytest.exit): the report says the run ended early and why."""
    config = _CONFIG.get("config")
    st = config.stash.get(_KEY, None) if config is not None else None
    if st is not None:
        exc = excinfo.value
        msg = str(getattr(exc, "msg", None) or exc)
        st["stopped"] = "interrupted" if type(exc) is KeyboardInterrupt or not msg or \
            "keyboard-interrupt" in msg else f"stopped early ({msg})"


def _selected(session, st) -> int:
    """How many claims the run selected: the workers' count under pytest-xdist, else the
    claims among the session's items (after -k and the like)."""
    if st["selected"] is not None:
        return st["selected"]
    return len({_claim_of(item.nodeid) for item in getattr(session, "items", ())} - {None})


def _stopped(session, st) -> str | None:
    stop = session.shouldfail or session.shouldstop     # -x, --maxfail, --stepwise
    return st["stopped"] or (f"stopped early ({stop})" if stop else None)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """The controller writes the report here, first among the hooks: under pytest-xdist
    before xdist's own, which waits for the workers' processes to end (0.5-1 s, JAX's and
    PyTorch's teardown), so that those ends overlap the report's writing. A run that ended
    early (Ctrl-C, -x) writes the records of the claims that finished, and the gate says
    how many of the selected claims ran."""
    config = session.config
    st = config.stash.get(_KEY, None)
    if not _is_controller(config) or st is None:
        return
    selected, stopped = _selected(session, st), _stopped(session, st)
    if not selected and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and \
            not config.option.collectonly:   # -k matched no claim: a previous report
        stopped = "no claim was selected"    # must not stand as this run's
    elif not (st["ran"] or st["failed"] or st["crashed"] or st.get("started") or
              (selected and stopped)):
        return   # (a started run always writes: its unfinished report must not stand)
    ad = session_of(config)
    ad.selected, ad.stopped = selected, stopped
    _add_broken(ad, st["failed"])
    if stopped != "interrupted":   # (an interrupt's own casualties are not crashes)
        _add_broken(ad, {_claim_of(n): text for n, text in st["crashed"].items()
                         if _claim_of(n)}, _CRASHED)
    _facts(ad, session, crashed=bool(st["crashed"]))
    claims = {c.id: c for c in _catalogue(config)}
    for rec in ad.records:
        if not rec["section"] and rec["claim"] in claims:
            rec["section"] = claims[rec["claim"]].section
    ad.claims = {cid: claims.get(cid) for cid in ad.claims}
    from .session import ReportWriteError
    try:
        ad.finish()
    except ReportWriteError as exc:
        st["write_error"] = str(exc)
        _undelivered(ad.result["summary"], str(exc))
    failed = ad.gate.verdict == "fail" or "write_error" in st
    if failed and session.exitstatus == 0:
        session.exitstatus = 1


def _undelivered(s: dict, why: str) -> None:
    """A report that could not be written fails the run, and the terminal's verdict says so
    (its last line said the records' PASS beside exit status 1 and a directory without that
    report)."""
    s["gate_reasons"] = [f"the report could not be written ({why}); the records' own verdict "
                         f"was {s['gate'].upper()}"] + (s["gate_reasons"] if s["gate"] == "fail"
                                                        else [])
    s["gate"] = "fail"


_CRASHED = ("the process that ran the claim ended before handing in its records (a crash "
            "of the engine or of the interpreter; pytest-xdist started another worker)")


def _facts(ad, session, crashed=False):
    """The run's facts, where no test handed them in. Their extras ask the engines again: a
    KeyboardInterrupt there (Ctrl-C, or an engine's own) ends the run as it would during a
    claim, and the report is written without them; where a worker's process died, the
    controller asks the engines nothing (the same crash would end it before its report)."""
    if ad.received_facts is not None or ad.stopped:
        return
    if crashed:
        ad.received_facts = ad.facts(extras=False)
        return
    try:
        with _quiet():   # the engines' own prints, outside any test's capture
            ad.received_facts = ad.facts()
    except KeyboardInterrupt:
        ad.stopped = "interrupted"
        session.exitstatus = pytest.ExitCode.INTERRUPTED


@contextlib.contextmanager
def _quiet():
    """File descriptors 1 and 2 (and Python's streams) to /dev/null meanwhile: in the
    controller's terminal an engine printing "gate: PASS" would stand beside the verdict."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _add_broken(ad, failed: dict, why="the claim's test failed without records"):
    """A claim whose test broke before it could hand in records: a harness-error record."""
    from .verdict import HARNESS, Record
    done = set(ad.ran)
    for cid, text in failed.items():
        if cid not in done:
            ad.add(cid, [Record(cid, "", HARNESS, "harness", "harness-error",
                                detail=f"{why}:\n{text}").to_dict()])


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config):
    """A process that ran claims holds JAX's, PyTorch's and Hypothesis's objects (about half
    a million); pytest collects garbage five times at exit and the interpreter once more,
    about 2 s here. Nothing is left to collect that matters once the report is written, so
    the objects are frozen (`gc.freeze`), out of those collections' reach."""
    st = config.stash.get(_KEY, None)
    if st is not None and st["session"] is not None:
        _last_word(config, st)
        import gc
        gc.freeze()


def _last_word(config, st):
    """The gate's verdict once more, after pytest's own last line: that line counts tests
    ("12 passed"), and a gate can fail where every test passed (nothing verified, claims
    that did not run), so the terminal's last line is the verdict."""
    ad = st["session"]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if ad.result is None or reporter is None or not _is_controller(config):
        return
    s = ad.result["summary"]
    reporter.write_line(f"AD conformance {_gate_line(s)}", red=s["gate"] == "fail",
                        green=s["gate"] == "pass")


def _gate_line(s: dict) -> str:
    why = "; ".join(s["gate_reasons"]) or "0 failing records"
    return f"gate: {s['gate'].upper()} ({why})"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    st = config.stash.get(_KEY, None)
    ad = st and st["session"]
    if ad is None or ad.result is None:
        return
    tr = terminalreporter
    s = ad.result["summary"]
    tr.section("AD conformance")
    for b in ad.gate.stale:
        tr.line(f"STALE baseline entry: {b.claim} / {b.check} no longer reproduces "
                f"(remove it from {ad.baseline_path})", red=True)
    for name, why in s["oracles_skipped"].items():
        tr.line(f"oracle skipped: {why}", yellow=True)
    tr.line("  ".join(f"{c}: {n}" for c, n in s["counts"].items()))
    cov = s["coverage"]
    tr.line(f"subject {s['subject']}: {cov['answered']} of {cov['total']} checks answered")
    for warning in s.get("warnings") or ():
        tr.line(f"note: {warning}", yellow=True)
    tr.line(_gate_line(s), red=s["gate"] == "fail", green=s["gate"] == "pass")
    if s.get("report_error"):
        tr.line(f"warning: {s['report_error']}", yellow=True)
    if "write_error" in st:
        tr.line(f"report NOT written: {st['write_error']}", red=True)
    else:
        html = ad.report_dir / "index.html"
        tr.line(f"report: {html if html.exists() else ad.report_dir / 'results.json'}")
