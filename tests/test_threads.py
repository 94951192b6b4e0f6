"""A run's processes give PyTorch and the BLAS a fixed number of threads (`--ad-threads`,
oracles.threads): what the libraries run with, in the process and in a run's workers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oracles import threads
from oracles.reproduce import RunOptions

ROOT = Path(__file__).resolve().parent.parent
threadpoolctl = pytest.importorskip("threadpoolctl")
torch = pytest.importorskip("torch")


@pytest.fixture
def restored():
    """This test process's settings, put back after the test (other tests run here too)."""
    before_torch = torch.get_num_threads()
    controller = threadpoolctl.ThreadpoolController()
    before = [(lib.internal_api, lib.num_threads) for lib in controller.lib_controllers]
    yield
    torch.set_num_threads(before_torch)
    for lib, (_, n) in zip(controller.lib_controllers, before):
        lib.set_num_threads(n)
    threads._applied = None


def _blas_threads():
    return {lib["internal_api"]: lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"}


def test_apply_pins_torch_and_the_blas_and_report_says_so(restored):
    n = (os.cpu_count() or 1) + 1   # never a library's own default (one per core)
    threads.apply(n)
    assert torch.get_num_threads() == n
    assert _blas_threads() and set(_blas_threads().values()) == {n}
    got = threads.report()
    assert got["torch"] == n and all(v == n for k, v in got.items() if k != "torch")


def test_zero_leaves_the_libraries_as_they_are(restored):
    torch.set_num_threads(3)
    blas = _blas_threads()
    threads.apply(0)
    assert torch.get_num_threads() == 3 and _blas_threads() == blas


def test_a_library_loaded_after_the_last_call_is_pinned_at_the_next(restored, monkeypatch):
    """The cheap path (no module imported since the last call) skips the work; a newly
    imported module makes the next call look again."""
    n = (os.cpu_count() or 1) + 1
    threads.apply(n)
    torch.set_num_threads(1)             # as a library loaded since would start
    threads.apply(n)
    assert torch.get_num_threads() == 1  # nothing imported since: not looked at again
    monkeypatch.setitem(sys.modules, "a_module_imported_since", object())
    threads.apply(n)
    assert torch.get_num_threads() == n


def test_a_library_that_refuses_never_stops_the_run_and_the_report_says_why(restored,
                                                                            monkeypatch):
    def refuse(**_):
        raise RuntimeError("no, thanks")
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", refuse)
    monkeypatch.setattr(threads, "_failed", [])
    threads.apply((os.cpu_count() or 1) + 1)
    assert threads.report()["not pinned"] == "RuntimeError: no, thanks"


def test_the_option_travels_in_reproduce_lines_only_when_not_the_default():
    assert "--ad-threads" not in RunOptions().args()
    assert RunOptions(threads=0).args()[-2:] == ["--ad-threads", "0"]


def _run(tmp_path, *args):
    cmd = [sys.executable, "-m", "pytest", "tests/notes", "-q", "-p", "no:cacheprovider",
           "--ad-report-dir", str(tmp_path / "rep"), "--ad-oracles", "torch,referee,fd",
           "-k", "facts or relu-derivative", *args]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr


def test_a_runs_workers_run_with_the_threads_asked_and_results_json_says_so(tmp_path):
    """The facts (and with them the summary's `threads`) come from the worker that took
    `test_facts`, a process that ran claims."""
    n = (os.cpu_count() or 1) + 1
    code, out = _run(tmp_path, "-n", "2", "--ad-threads", str(n))
    assert code == 0, out[-3000:]
    summary = json.loads((tmp_path / "rep" / "results.json").read_text())["summary"]
    got = summary["threads"]
    assert got["torch"] == n and ("openblas" in got or "mkl" in got), got
    assert all(v == n for v in got.values()), got
    assert summary["options"][-2:] == ["--ad-threads", str(n)]


def test_a_negative_number_of_threads_is_a_usage_error(tmp_path):
    code, out = _run(tmp_path, "--ad-threads", "-1")
    assert code == 4, out[-3000:]
    assert "--ad-threads -1: expected a number of threads" in out
