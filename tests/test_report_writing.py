"""The report directory is written as a unit (oracles.writing): concurrent runs never share a
temporary name and never leave a results.json beside another run's index.html; a failure to
write is one line naming the path and the reason, a non-zero exit, and the previous report
left as it was; a missing report dependency is a warning and a field, never a stale page."""
import errno
import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from oracles import writing
from oracles.writing import ReportWriteError, write_report_dir

from test_reports import SAMPLE, results

ROOT = Path(__file__).resolve().parent.parent


def _result(tag):
    res = results(SAMPLE)
    res["summary"]["commit"] = tag
    return res


def _write(args):
    target, tag = args
    write_report_dir(target, _result(tag))
    return tag


def _consistent(target):
    """results.json and index.html of one directory come from the same run."""
    tag = json.loads((target / "results.json").read_text())["summary"]["commit"]
    assert f", {tag}</td>" in (target / "index.html").read_text()
    return tag


def test_120_concurrent_writes_leave_one_consistent_report(tmp_path):
    target = tmp_path / "rep"
    jobs = [(target, f"run-{i:03d}") for i in range(120)]
    # spawned, not forked: a fork of a process that has started JAX's threads may deadlock
    with ProcessPoolExecutor(max_workers=8, mp_context=multiprocessing.get_context("spawn")) \
            as pool:
        done = list(pool.map(_write, jobs))           # re-raises any writer's exception
    assert len(done) == 120
    assert _consistent(target) in done
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]   # no temporary left
    assert sorted(p.name for p in target.iterdir()) == ["index.html", "results.json"]


def test_a_failed_write_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    target = tmp_path / "rep"
    write_report_dir(target, _result("old-run"))

    def disk_full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(writing.os, "chmod", disk_full)
    with pytest.raises(ReportWriteError) as err:
        write_report_dir(target, _result("new-run"))
    assert str(err.value) == f"cannot write the report to {target}: No space left on device"
    assert _consistent(target) == "old-run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def conformance(tmp_path, *args, env_path=None):
    env = dict(os.environ)
    if env_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(env_path),
                                                           env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "oracles", "-q", "-p", "no:cacheprovider",
           "-W", "ignore::DeprecationWarning", "--ad-oracles", "referee",
           "--ad-examples", "2", "-k", "chain-scalar-sin-exp-tanh", *args]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("target, why", [
    ("a-file/rep", "not a directory: {tmp}/a-file is a file"),
    ("a-file/rep/deeper", "not a directory: {tmp}/a-file is a file"),
    ("a-file", "not a directory: {tmp}/a-file is a file"),
    ("/proc/nope", "cannot make a directory in /proc: "),
    ("", "--ad-report-dir '': expected a directory"),
])
def test_a_report_directory_that_cannot_be_written_stops_the_run_before_it_starts(
        tmp_path, target, why):
    """Found at the start, not after every claim has run: one line naming the path and the
    reason, exit status 4, and nothing made."""
    if target.startswith("/proc") and not os.path.ismount("/proc"):
        pytest.skip("no /proc here")
    (tmp_path / "a-file").write_text("not a directory")
    code, out = conformance(tmp_path, "--ad-report-dir", target)
    assert code == 4, out
    assert f"ERROR: --ad-report-dir {target}: " in out or not target, out
    assert why.format(tmp=tmp_path) in out, out
    assert "passed" not in out and "Traceback" not in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    assert (tmp_path / "a-file").read_text() == "not a directory"


def test_checking_a_report_directory_leaves_nothing_behind(tmp_path):
    writing.check_report_dir(tmp_path / "rep")                 # made in tmp_path
    writing.check_report_dir(tmp_path / "not" / "yet" / "rep")   # parents made by the writer
    assert list(tmp_path.iterdir()) == []


def test_a_mount_point_is_no_report_directory(tmp_path, monkeypatch):
    """A mount point (/proc, /) cannot take a fresh directory's place: the writer would copy
    what it holds into the fresh directory and then fail."""
    target = tmp_path / "mounted"
    target.mkdir()
    monkeypatch.setattr(writing.os.path, "ismount", lambda p: Path(p) == target)
    with pytest.raises(ReportWriteError) as err:
        writing.check_report_dir(target)
    assert str(err.value) == f"{target} is a mount point, which cannot be replaced"


BLOCKER = """
import shutil


def pytest_collection_finish(session):   # after the report directory was checked
    shutil.rmtree({parent!r})
    open({parent!r}, "w").write("not a directory")
"""


def test_a_report_directory_that_fails_during_the_run_is_one_line_and_fails_it(tmp_path):
    """What cannot be checked at the start (here a directory that a file replaces during
    the run) still costs one line naming the path, a non-zero exit and no traceback."""
    parent = tmp_path / "parent"
    parent.mkdir()
    (tmp_path / "blocker.py").write_text(BLOCKER.format(parent=str(parent)))
    target = parent / "rep"
    code, out = conformance(tmp_path, "--ad-report-dir", str(target), "-p", "blocker",
                            env_path=tmp_path)
    assert code == 1, out
    assert f"report NOT written: cannot write the report to {target}: " in out, out
    assert "Traceback" not in out
    verdicts = [line for line in out.splitlines() if "gate: " in line]   # (stderr's after)
    assert verdicts and all("gate: FAIL" in line for line in verdicts), verdicts  # never PASS
    last = verdicts[-1]
    assert last.startswith("AD conformance gate: FAIL (the report could not be written"), last
    assert "the records' own verdict was PASS" in last
    assert parent.read_text() == "not a directory"


def test_a_missing_report_dependency_is_a_warning_and_no_stale_page(tmp_path):
    target = tmp_path / "rep"
    write_report_dir(target, _result("old-run"))          # an earlier run's page
    blocker = tmp_path / "block" / "jinja2"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError(\"No module named 'jinja2'\", name='jinja2')\n")
    code, out = conformance(tmp_path, "--ad-report-dir", str(target),
                            env_path=tmp_path / "block")
    assert code == 0, out                                   # the verdict does not depend on it
    assert "warning: the HTML report was not written: jinja2 is not installed" in out, out
    res = json.loads((target / "results.json").read_text())
    assert "jinja2 is not installed" in res["summary"]["report_error"]
    assert res["summary"]["gate"] == "pass" and res["records"]
    assert not (target / "index.html").exists()             # the old page is gone, not stale


def test_a_page_that_fails_to_render_still_writes_the_records(tmp_path, monkeypatch):
    """Whatever the page raises, results.json is written and says why there is no page."""
    import reports

    def broken(result, previous=None):
        raise ValueError("a template bug")
    monkeypatch.setattr(reports, "render", broken)
    target = tmp_path / "rep"
    res = _result("run")
    write_report_dir(target, res)
    got = json.loads((target / "results.json").read_text())
    assert got["records"] == json.loads(json.dumps(res["records"]))
    assert "ValueError: a template bug" in got["summary"]["report_error"]
    assert not (target / "index.html").exists()
