"""Test-wide settings: Hypothesis profiles, and the conformance harness's pytest wiring."""
import os

from hypothesis import HealthCheck, settings

# `ci`: derandomized and bounded, so the same commit gives the same verdicts; `thorough`: for
# nightly depth. Choose with HYPOTHESIS_PROFILE=thorough.
settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --- the conformance harness: thin hooks that hand off to oracles.session.AdSession ----------

import json  # noqa: E402

import pytest  # noqa: E402

_RECORDS = "ad_records"


def pytest_addoption(parser):
    group = parser.getgroup("ad-harness", "AD conformance harness (pytest tests/notes)")
    group.addoption("--ad-subject", metavar="MODULE:ATTR", default="ourad",
                    help="the engine under test, any object with the Engine protocol "
                         "(default: ourad, its forward and reverse modes each a subject)")
    group.addoption("--ad-oracles", metavar="NAMES", default="jax,torch,fd,referee",
                    help="comma-separated oracles to use, among jax, torch, fd, referee "
                         "(default: %(default)s; a missing package is skipped)")
    group.addoption("--ad-formulas", metavar="PATH", action="append", default=[],
                    help="a claim file to add to the catalogue (repeatable; default: none)")
    group.addoption("--ad-report-dir", metavar="DIR", default="reports/latest",
                    help="where results.json and index.html go (default: %(default)s)")
    group.addoption("--ad-baseline", metavar="TOML", default="tests/notes/errata.toml",
                    help="the known errata of the notes (default: %(default)s)")
    group.addoption("--ad-baseline-json", metavar="PATH", default=None,
                    help="a previous run's results.json, to report new, fixed and unchanged "
                         "discrepancies (default: none)")
    group.addoption("--ad-seed", metavar="N", type=int, default=0,
                    help="seed of the random tangents and cotangents (default: %(default)s)")
    group.addoption("--ad-examples", metavar="N", type=int, default=None,
                    help="inputs drawn per claim (default: 8 under the ci profile, the "
                         "profile's max_examples otherwise)")


def _ad_session(config):
    if not hasattr(config, "_ad_session"):
        from oracles.session import AdSession
        profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
        examples = config.getoption("--ad-examples") or (8 if profile == "ci" else None)
        config._ad_session = AdSession(
            subject=config.getoption("--ad-subject"),
            oracles=[s for s in config.getoption("--ad-oracles").split(",") if s],
            report_dir=config.getoption("--ad-report-dir"),
            baseline=config.getoption("--ad-baseline"), seed=config.getoption("--ad-seed"),
            examples=examples, profile=profile,
            previous_json=config.getoption("--ad-baseline-json"))
        config._ad_ran = []
    return config._ad_session


def pytest_generate_tests(metafunc):
    if "claim" in metafunc.fixturenames:
        from oracles.claims import ClaimFileError, load_catalogue
        try:
            claims = load_catalogue(metafunc.config.getoption("--ad-formulas"))
        except ClaimFileError as exc:
            raise pytest.UsageError(f"--ad-formulas: {exc}") from None
        metafunc.config._ad_catalogue = claims   # reused at the end (with its modules' caches)
        metafunc.parametrize("claim", claims, ids=[c.id for c in claims])


@pytest.fixture
def ad_session(request):
    return _ad_session(request.config)


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == _RECORDS:
            cfg = _CONFIG[0]
            if cfg is not None and not hasattr(cfg, "workerinput"):
                data = json.loads(value)
                _ad_session(cfg).add(data["records"])
                cfg._ad_ran.append(data["claim"])
                _ad_session(cfg).claims[data["claim"]] = None


_CONFIG = [None]


def pytest_configure(config):
    _CONFIG[0] = config


def pytest_sessionfinish(session, exitstatus):
    cfg = session.config
    if hasattr(cfg, "workerinput") or not getattr(cfg, "_ad_ran", None):
        return
    ad = _ad_session(cfg)
    from oracles.claims import load_catalogue
    claims = getattr(cfg, "_ad_catalogue", None)   # under xdist the controller collects none
    if claims is None:
        claims = load_catalogue(cfg.getoption("--ad-formulas"))
    by_id = {c.id: c for c in claims}
    ad.claims = {cid: by_id[cid] for cid in ad.claims if cid in by_id}
    ad.finish(cfg._ad_ran)
    if ad.gate.stale and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    ad = getattr(config, "_ad_session", None)
    if ad is None or not hasattr(ad, "result"):
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
    tr.line(f"gate: {s['gate'].upper()} ({s['failures']} failing records, "
            f"{len(s['stale_baseline'])} stale baseline entries)",
            red=s["gate"] == "fail", green=s["gate"] == "pass")
    html = ad.report_dir / "index.html"
    tr.line(f"report: {html if html.exists() else ad.report_dir / 'results.json'}")
