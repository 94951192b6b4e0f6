"""A conformance run spread over pytest-xdist's explicit workers (`--tx`, as across machines)
gives the records of a serial run: the same claims, engines, checks and categories, and the
same values, inputs, errors and tolerances, record for record; the same extras (the report's
trace tables, curves, kinks and costs) and the same summary but for its date and commit.

The selection runs every default oracle (JAX, PyTorch, fd, the referee) and covers each
kind of check: a scalar chain rule, the notes' forward table, a kink, a network's
backpropagation, a Jacobian, a generated primitive and a cost statement. With `--dist load`
each worker is first sent two consecutive claims, so the second worker's first claim is not
the serial run's first: a claim must draw its inputs alike in either place."""
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SELECTION = ("chain-scalar-sin-exp-tanh or fwd-table-tangent-column or relu-derivative or "
             "mlp-backward-loop-tanh-identity-sqerr or jacobian-shape or op-maximum or "
             "fd-gradient-matches-ad or rev-store-activations")


def conformance(report_dir, *args) -> dict:
    p = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "tests" / "notes"), "-q",
                        "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
                        "-k", SELECTION, "--ad-report-dir", str(report_dir), *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=900,
                       env=dict(os.environ))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return json.loads((Path(report_dir) / "results.json").read_text())


REMOTE = os.environ.get("AD_TEST_TX", "")   # e.g. "2*ssh=user@host//python=python3"


@pytest.mark.parametrize("tx", [
    "2*popen",
    pytest.param(REMOTE, id="remote", marks=pytest.mark.skipif(
        not REMOTE,
        reason="AD_TEST_TX names no remote workers (e.g. 2*ssh=host//python=python3)"))])
def test_explicit_workers_give_the_records_of_a_serial_run(tmp_path, tx):
    """`tx` is pytest-xdist's `--tx`; remote workers get the checkout's `rsyncdirs`
    (pyproject.toml) and the test directory as an absolute path, as the README says."""
    serial = conformance(tmp_path / "serial")
    spread = conformance(tmp_path / "tx", "-p", "xdist", "--dist", "load",
                         *[a for spec in shlex.split(tx) for a in ("--tx", spec)])
    assert len({r["claim"] for r in serial["records"]}) == 8
    key = lambda r: (r["claim"], r["engine"], r["check"])  # noqa: E731
    assert [key(r) for r in spread["records"]] == [key(r) for r in serial["records"]]
    moved = [key(a) for a, b in zip(serial["records"], spread["records"]) if a != b]
    assert not moved, f"records that differ between the serial and the spread run: {moved}"
    assert spread["claims"] == serial["claims"]
    assert spread["extras"] == serial["extras"]
    for s in (serial["summary"], spread["summary"]):
        del s["date"], s["commit"]
    assert spread["summary"] == serial["summary"]


def test_the_test_runner_never_counts_as_local_for_hypothesis(monkeypatch):
    """Wherever pytest was imported from (a remote worker's rsync directory), its constants
    never enter the draws; every other module is judged as Hypothesis judges it."""
    import _pytest
    from hypothesis.internal.conjecture import providers

    from oracles.harness import runner_not_local
    monkeypatch.setattr(providers, "is_local_module_file", lambda path: True)
    runner_not_local()
    judge = providers.is_local_module_file
    assert judge(_pytest.__file__) is False
    assert judge(pytest.__file__) is False
    assert judge(str(ROOT / "oracles" / "harness.py")) is True
    runner_not_local()   # installed once
    assert providers.is_local_module_file is judge
