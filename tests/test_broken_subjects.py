"""A wrong engine never passes: engines that misbehave as real adapters do (tests/engines/
broken.py), each run through `ad-conformance` as a user would, from a directory outside the
repository. Every run must give one verdict in the exit status, results.json, the terminal
and the report, with every claim that ran present."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ENGINES = Path(__file__).resolve().parent / "engines"
CLAIMS = "chain-scalar-sin-exp-tanh or fwd-example-f"     # one input, and two inputs


def conformance(tmp_path, *args, claims=CLAIMS, oracles="referee,fd"):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ENGINES), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "oracles", "-q", "-W", "ignore::DeprecationWarning",
           "--ad-oracles", oracles, "--ad-examples", "3", "--ad-report-dir",
           str(tmp_path / "rep"), *args]
    if claims:
        cmd += ["-k", claims]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env=env)
    return p.returncode, p.stdout + p.stderr


def results(tmp_path):
    return json.loads((tmp_path / "rep" / "results.json").read_text())


def one_truth(tmp_path, code, out, gate):
    """The exit status, results.json, the terminal and the HTML report say the same."""
    res = results(tmp_path)
    assert res["summary"]["gate"] == gate, out
    assert code == (0 if gate == "pass" else 1), out
    assert f"gate: {gate.upper()}" in out
    html = (tmp_path / "rep" / "index.html").read_text()
    assert f'class="verdict {gate}"' in html
    ran = {r["claim"] for r in res["records"]}
    assert ran == {"chain-scalar-sin-exp-tanh", "fwd-example-f"}, ran
    assert res["summary"]["claims_run"] == 2
    return res


def mine(res, engine):
    return [r for r in res["records"] if r["engine"] == engine]


@pytest.mark.parametrize("cls, check, category, message", [
    ("TypoInJvp", "jvp", "subject-defect", "AttributeError: 'numpy.ndarray' object has no "
                                           "attribute 'tanget'"),
    ("ReturnsNone", "vjp", "subject-defect", "must return a pair"),
    ("PairWithNone", "jvp", "subject-defect", "the jvp's output tangent is None"),
    ("WrongTangentShape", "jvp", "subject-defect", "the jvp's output tangent has shape"),
    ("TooFewCotangents", "vjp", "subject-defect", "cotangent(s) for"),
    ("NaNOnOneHot", "jacobian", "subject-defect", "nan at entry"),
    ("WrongPrimal", "value", "subject-defect", "the primal output"),
    ("Exits", "vjp", "subject-defect", "SystemExit"),
    ("ExitsTheProcess", "vjp", "subject-defect", "called os._exit(0)"),
    ("NegatedVjp", "vjp", "subject-defect", ""),
])
def test_a_misbehaving_engine_fails_the_gate_with_a_message(tmp_path, cls, check, category,
                                                            message):
    code, out = conformance(tmp_path, "--ad-subject", f"broken:{cls}")
    res = one_truth(tmp_path, code, out, "fail")
    recs = [r for r in res["records"] if r["subject"] and r["check"] == check]
    # in float32, with no float32 AD oracle in this run (referee, fd) to measure rounding, a
    # derivative beyond rounding is inconclusive (tests/test_float32.py); never agree
    ok = {"float64": {category}, "float32": {category, "inconclusive"}}
    assert recs and all(r["category"] in ok[r["dtype"]] for r in recs), [
        (r["claim"], r["check"], r["dtype"], r["category"], r["detail"][:200]) for r in recs]
    assert any(r["dtype"] == "float32" for r in recs) == (check in ("jvp", "vjp", "value"))
    assert all(message in r["detail"] for r in recs if r["category"] == category), \
        [r["detail"] for r in recs]
    assert "[subject-defect]" in out


def test_torch_tensors_that_require_grad_are_accepted_as_answers(tmp_path):
    code, out = conformance(tmp_path, "--ad-subject", "broken:TorchRequiresGrad")
    res = one_truth(tmp_path, code, out, "pass")
    assert all(r["category"] == "agree" for r in mine(res, "torch-requires-grad")
               if r["check"] in ("vjp", "value"))


def test_a_hanging_engine_times_out_and_the_run_goes_on(tmp_path):
    code, out = conformance(tmp_path, "--ad-subject", "broken:Hangs", "--ad-timeout", "0.5")
    res = one_truth(tmp_path, code, out, "fail")
    jvps = [r for r in mine(res, "hangs") if r["check"] == "jvp"]
    assert jvps and all("timed out after 0.5 s" in r["detail"] for r in jvps)
    assert any(r["check"] == "vjp" and r["category"] == "agree" for r in mine(res, "hangs"))


def test_the_right_engine_passes(tmp_path):
    code, out = conformance(tmp_path, "--ad-subject", "broken:Right")
    res = one_truth(tmp_path, code, out, "pass")
    assert res["summary"]["coverage"]["answered"] == res["summary"]["coverage"]["total"] > 0
    assert "checks answered" in out


def test_an_engine_that_answers_nothing_fails_the_gate(tmp_path):
    code, out = conformance(tmp_path, "--ad-subject", "broken:Unsupporting")
    res = one_truth(tmp_path, code, out, "fail")
    assert res["summary"]["coverage"]["answered"] == 0
    assert "nothing was verified" in out
    # every test passed (the engine raised nothing): pytest's last line counts them, and the
    # verdict follows it as the terminal's last word
    last = out.index("AD conformance gate: FAIL (nothing was verified")
    assert " passed" in out[:last] and " passed" not in out[last:], out[-1500:]


def test_a_missing_name_is_unsupported_and_strict_fails_it(tmp_path):
    code, out = conformance(tmp_path, "--ad-subject", "broken:LacksSin")
    res = one_truth(tmp_path, code, out, "pass")
    jvp = [r for r in mine(res, "lacks-sin") if r["check"] == "jvp"]
    assert jvp and all(r["category"] == "unsupported" and "'sin'" in r["detail"] for r in jvp)
    # a pass that answered little says so, with the names, in every place the verdict is
    lacks = [w for w in res["summary"]["warnings"] if "namespace lacks sin:" in w]
    assert len(lacks) == 1 and f"note: {lacks[0]}" in out
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "namespace lacks sin:" in html
    # and float32 checks that could not fail (no AD oracle in this run: referee, fd)
    assert any("no AD oracle" in w for w in res["summary"]["warnings"])
    code, out = conformance(tmp_path, "--ad-subject", "broken:LacksSin", "--ad-strict")
    one_truth(tmp_path, code, out, "fail")


def test_a_subject_given_by_its_files_path_runs(tmp_path):
    """`--ad-subject path/to/my_engine.py:Engine`, from any directory, under -n 2 too."""
    code, out = conformance(tmp_path, "--ad-subject", f"{ENGINES / 'broken.py'}:Right",
                            "-n", "2")
    res = one_truth(tmp_path, code, out, "pass")
    assert {r["engine"] for r in res["records"] if r["subject"]} == {"right"}


@pytest.mark.parametrize("spec, message", [
    ("broken", "expected MODULE:ATTR"),
    ("no_such_module_anywhere:Engine", "cannot import 'no_such_module_anywhere'"),
    ("no_such_module_anywhere:Engine", "run from the folder that holds it"),
    ("no/such/file.py:Engine", "no such file"),
    ("broken:Missing", "module 'broken' has no attribute 'Missing'"),
    ("broken:NoModes", "neither jvp nor vjp"),
    ("broken:NoXp", "`xp` is missing or None"),
    ("broken:NoName", "needs a `name` string"),
])
def test_a_bad_subject_is_one_usage_error(tmp_path, spec, message):
    code, out = conformance(tmp_path, "--ad-subject", spec)
    assert code == 4, out
    assert message in out and "Traceback" not in out and out.count("\n") < 10, out


def test_an_unknown_oracle_is_one_usage_error(tmp_path):
    code, out = conformance(tmp_path, oracles="jax,tensorflow")
    assert code == 4 and "unknown oracle(s) 'tensorflow'" in out and out.count("\n") < 10, out


@pytest.mark.parametrize("args,message", [
    (("--ad-examples", "-1"), "--ad-examples -1: expected a number of inputs, 1 or more"),
    (("--ad-examples", "0"), "--ad-examples 0: expected a number of inputs, 1 or more"),
    (("--ad-timeout", "-5"), "--ad-timeout -5: expected seconds"),
    (("--ad-timeout", "nan"), "--ad-timeout nan: expected seconds"),
    (("--ad-baseline-json", "no-such.json"), "--ad-baseline-json no-such.json: cannot read it"),
])
def test_a_bad_number_or_file_is_one_usage_error(tmp_path, args, message):
    """Not a failure of every claim (a negative count of examples made each a claim-error
    blaming the catalogue, a negative time limit each a harness-error)."""
    code, out = conformance(tmp_path, *args)
    assert code == 4, out
    assert message in out and "Traceback" not in out and out.count("\n") < 10, out


def test_an_empty_list_of_oracles_is_one_usage_error(tmp_path):
    code, out = conformance(tmp_path, oracles="")
    assert code == 4 and "--ad-oracles '': expected comma-separated names" in out, out


def test_a_previous_run_that_is_not_a_results_file_is_one_usage_error(tmp_path):
    bad = tmp_path / "prev.json"
    bad.write_text('{"records": []}')
    code, out = conformance(tmp_path, "--ad-baseline-json", str(bad))
    assert code == 4 and "not a results.json" in out, out


BASELINES = {
    "syntax": ('[[erratum]\nclaim = "x"\n', "not valid TOML"),
    "typo": ('[[errata]]\nclaim = "fwd-table-tangent-rule-v6"\ncheck = "notes-jvp"\n'
             'explanation = "x"\n', "unknown table(s) errata"),
    "types": ('[[erratum]]\nclaim = 6\ncheck = "notes-jvp"\nexplanation = "x"\n',
              "claim must be a non-empty string"),
    "unknown-claim": ('[[erratum]]\nclaim = "no-such-claim"\ncheck = "notes-jvp"\n'
                      'explanation = "x"\n', "no claim has the id 'no-such-claim'"),
}


@pytest.mark.parametrize("kind", sorted(BASELINES) + ["missing"])
def test_a_bad_baseline_is_one_usage_error_naming_the_path(tmp_path, kind):
    path = tmp_path / "errata.toml"
    if kind == "missing":
        message = "no such baseline file"
    else:
        text, message = BASELINES[kind]
        path.write_text(text)
    code, out = conformance(tmp_path, "--ad-baseline", str(path))
    assert code == 4, out
    assert str(path) in out and message in out and out.count("\n") < 10, out


@pytest.mark.parametrize("cls, category, message", [
    ("WritesIntoItsInputs", "subject-defect", "read-only"),
    ("WritesPastTheFlag", "agree", ""),   # it answered before it wrote
])
def test_an_engine_that_writes_into_its_inputs_changes_no_other_engines_records(cls, category,
                                                                               message):
    """Engines are handed read-only copies of the point's arrays: a plain write raises in
    the engine that made it, one past the flag changes that engine's copy alone, and every
    engine after it is asked at the drawn input."""
    sys.path.insert(0, str(ENGINES))
    try:
        import broken
    finally:
        sys.path.remove(str(ENGINES))
    writer_cls = getattr(broken, cls)
    import oracles
    from oracles.claims import load_catalogue
    from oracles.harness import Harness, draw_inputs
    names = [n for n in ("jax", "torch", "fd", "referee") if oracles.available()[n] is True]
    h = Harness([writer_cls(), oracles.engine("ourad-reverse")],
                {n: oracles.engine(n) for n in names}, seed=0)
    for claim in [c for c in load_catalogue()
                  if c.id in ("chain-scalar-sin-exp-tanh", "dense-jacobian-wrt-y")]:
        x = draw_inputs(claim, 2)
        before = [[a.copy() for a in p] for p in x]
        recs = h.run_claim(claim, x)
        assert all(np.array_equal(a, b) for p, q in zip(x, before) for a, b in zip(p, q))
        writer = [r for r in recs if r.engine == writer_cls.name
                  and r.check in ("jvp", "vjp") and r.dtype == "float64"]
        assert writer and all(r.category == category and message in r.detail
                              for r in writer), [(r.check, r.category, r.detail) for r in writer]
        right = [r for r in recs if r.engine == "ourad-reverse"]
        assert right and all(r.category in ("agree", "inconclusive", "unsupported")
                             for r in right), [(r.check, r.category) for r in right]
        assert not [r for r in recs if r.category == "oracle-disagreement"]


def test_an_engine_that_changes_numpys_error_handling_or_jaxs_float64_changes_no_record():
    """An engine that leaves `np.seterr(all="raise")` (or JAX's float64 switch off, or
    mpmath at 3 digits) behind would make the harness's own arithmetic raise
    (`harness-error` records, lost checks), the JAX oracle answer in float32 or the referee
    blame a right engine; all are restored after every engine call, so its records are those
    of a right engine, and so are everyone else's."""
    sys.path.insert(0, str(ENGINES))
    try:
        from broken import ChangesGlobalState
    finally:
        sys.path.remove(str(ENGINES))
    import oracles
    from oracles.claims import load_catalogue
    from oracles.harness import Harness, draw_inputs
    names = [n for n in ("jax", "torch", "fd", "referee") if oracles.available()[n] is True]
    claims = [c for c in load_catalogue()
              if c.id in ("chain-scalar-sin-exp-tanh", "relu-derivative")]
    err = np.geterr()

    def records(subject):
        h = Harness([subject], {n: oracles.engine(n) for n in names}, seed=0)
        out = []
        for claim in claims:
            out += [(r.engine.replace(subject.name, "subject"), r.check, r.dtype, r.category)
                    for r in h.run_claim(claim, draw_inputs(claim, 3))]
        return out

    class LeavesItAlone(ChangesGlobalState):
        name = "leaves-it-alone"

        def _leave(self):
            pass

    bad = records(ChangesGlobalState())
    assert np.geterr() == err
    assert bad == records(LeavesItAlone())
    assert not [r for r in bad if r[3] in ("harness-error", "subject-defect")], bad


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")   # JAX's warning; the child
def test_a_process_an_engine_forks_ends_as_it_meant_to():         # only exits
    """os._exit is an error only for the engine's own call: a child the engine forks (as a
    multiprocessing pool or a data loader does, ending it with os._exit) exits for real, and
    never runs the harness on; an engine's own `except Exception` does not swallow the error
    of its exit."""
    import os

    from oracles.calls import call
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")

    def forks():
        pid = os.fork()
        if pid == 0:
            os._exit(7)          # the child: a real exit, whatever happens
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    assert call(forks) == (7, None)

    parent = os.getpid()

    def forks_and_comes_back(child):
        """The child comes back into the harness (returns, raises, sys.exit) instead of
        ending: the harness ends it, with the status Python would have given it."""
        pid = os.fork()
        if pid == 0:
            child()
            return "the child's answer"
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    def raises():
        raise ValueError("in the child")

    for child, status in ((lambda: sys.exit(3), 3), (raises, 1), (lambda: None, 0)):
        res = call(forks_and_comes_back, child)
        if os.getpid() != parent:   # the harness let the child run on: end it, visibly
            os._exit(99)
        assert res == (status, None)

    def swallows():
        import os
        try:
            os._exit(0)
        except Exception:  # noqa: BLE001
            return "swallowed"

    res, fault = call(swallows)
    assert res is None and "called os._exit(0)" in fault.message


GUARDED = """
import atexit, os, sys, threading
from oracles.calls import guard_exit
guard_exit()
t = threading.Thread(target=os._exit, args=(0,))   # an engine's watchdog, after its call
t.start(); t.join()
print("still running")
atexit.register(os._exit, 0)                        # a module's way to skip its teardown
sys.exit(5)                                         # the run's own status (its gate failed)
"""


def test_os_exit_0_outside_an_engine_call_cannot_end_a_run_as_a_pass():
    """Guarded (a run's processes), os._exit(0) from a thread the engine started or from an
    atexit hook raises in its thread instead: the run goes on and exits with its own status,
    never 0 because the subject said so."""
    p = subprocess.run([sys.executable, "-c", GUARDED], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 5, (p.returncode, p.stdout, p.stderr[-2000:])
    assert "still running" in p.stdout
    assert p.stderr.count("refused") == 2, p.stderr[-2000:]


DISARMS = """
import signal, threading, time
from oracles.calls import call

def disarms():                 # the engine's own use of the timer, then a hang
    signal.setitimer(signal.ITIMER_REAL, 0)
    while True:
        pass

def ignores():                 # SIGALRM ignored, then a hang
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        time.sleep(0.01)

print(call(disarms, timeout=0.3)[1].message)
print(call(ignores, timeout=0.3)[1].message)
print(signal.getsignal(signal.SIGALRM) == signal.SIG_DFL)
out = []
t = threading.Thread(target=lambda: out.append(call(lambda: [0 for _ in iter(int, 1)],
                                                     timeout=0.3)))
t.start(); t.join()
print(out[0][1].message)   # off the main thread, where SIGALRM cannot reach
print(call(lambda: 41 + 1, timeout=5)[0])
time.sleep(1.5)            # nothing raised late, after the calls ended
print("done")
"""


def test_a_hang_ends_even_where_the_engine_disarmed_the_timer_or_off_the_main_thread():
    """The time limit is SIGALRM first; an engine that disarms the timer, or ignores the
    signal, or a call outside the main thread, used to hang the run for ever. A watchdog
    thread ends such a call a second past its limit."""
    p = subprocess.run([sys.executable, "-c", DISARMS], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split("\n")[:6] == ["timed out after 0.3 s"] * 2 + ["True"] + \
        ["timed out after 0.3 s", "42", "done"], p.stdout


def test_a_right_engine_passes_a_cancelling_derivative_with_the_referee_alone(tmp_path):
    """Without JAX or PyTorch the float64 tolerance was 16 ulps of the answer alone, and xent's
    derivative through a sigmoid (terms of about 1 leaving 0.02) failed a right engine by its
    few ulps of the terms (3.96e-16 against 3.84e-16). ourad's float64 AD now measures the
    floor there (`reference._sampled_floor`); a wrong engine still fails."""
    claim = "mlp-output-derivative-xent-sigmoid"
    code, out = conformance(tmp_path, "--ad-subject", "broken:Right", "--ad-examples", "8",
                            claims=claim)
    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert code == 0 and res["summary"]["gate"] == "pass", out[-3000:]
    code, out = conformance(tmp_path, "--ad-subject", "broken:NegatedVjp", "--ad-examples",
                            "8", claims=claim)
    assert code == 1 and "[subject-defect]" in out


def test_ourad_measures_the_floor_only_where_no_ad_oracle_runs_and_it_is_no_subject():
    from oracles import engine
    from oracles.harness import _sampler
    sys.path.insert(0, str(ENGINES))
    try:
        from broken import Right
    finally:
        sys.path.remove(str(ENGINES))
    alone = {"referee": "referee", "fd": "numeric"}
    assert _sampler([Right()], alone).name == "ourad-reverse"
    assert _sampler([Right()], dict(alone, jax="ad")) is None
    assert _sampler([engine("ourad-forward"), engine("ourad-reverse")], alone) is None


def test_a_timeout_that_lands_after_the_engine_returned_is_caught_and_everything_restored(
        monkeypatch):
    """The watchdog raises in the call's thread; where its exception lands after the engine
    returned (in the call's own cleanup), it used to escape `call` into the harness with the
    SIGALRM handler, os._exit and the call's bookkeeping left as the call had set them."""
    import os
    import signal

    from oracles import calls
    stop = calls._Watchdog.stop
    landed = []

    def lands_first(self):
        if not landed:
            landed.append(True)
            raise calls.TimedOut()    # the late exception, at the cleanup's first step
        return stop(self)

    monkeypatch.setattr(calls._Watchdog, "stop", lands_first)
    handler, exit_fn = signal.getsignal(signal.SIGALRM), os._exit
    assert calls.call(lambda: "answer", timeout=5) == (None, calls.Fault(
        "defect", "timed out after 5 s"))
    assert signal.getsignal(signal.SIGALRM) == handler and os._exit is exit_fn
    assert not calls._IN_CALL and not calls._WATCHDOG.deadlines


def test_an_engine_of_a_module_named_like_the_harness_still_gets_copies():
    """`keeps_inputs` is the harness's own oracles' (by their classes as loaded), not any
    class that sets it and names its module `oracles.something`."""
    from oracles import calls, engine

    class Spoof:
        keeps_inputs = True
        __module__ = "oracles.mine"
    assert not calls.keeps_inputs(Spoof())
    assert all(calls.keeps_inputs(engine(n)) for n in ("fd", "referee"))


def test_an_engine_that_crashes_its_worker_costs_that_claim_a_record_not_the_report(tmp_path):
    """Under pytest-xdist an engine that kills its process (SIGSEGV) used to lose the claim
    without a record, and the controller, computing the facts the dead worker never handed
    in, asked the same engine and died too: no report, exit 139. Now the claim gets a
    harness-error record saying so, the controller asks the engines nothing, and the run
    reports."""
    code, out = conformance(tmp_path, "--ad-subject", "broken:CrashesTheProcess", "-n", "2")
    res = one_truth(tmp_path, code, out, "fail")
    crashed = [r for r in res["records"] if r["category"] == "harness-error"]
    assert [r["claim"] for r in crashed] == ["fwd-example-f"], crashed
    assert "ended before handing in its records" in crashed[0]["detail"]
    assert any(r["claim"] == "chain-scalar-sin-exp-tanh" and r["category"] == "agree"
               for r in mine(res, "crashes-the-process"))


def test_an_engines_prints_do_not_reach_the_terminal_beside_the_verdict(tmp_path):
    """pytest captures a test's output; the facts the controller computes itself (no
    test_facts selected) asked the engines outside any test, and their prints (a "gate:
    PASS" of their own among them) reached the terminal."""
    code, out = conformance(tmp_path, "--ad-subject", "broken:PrintsAVerdict")
    one_truth(tmp_path, code, out, "pass")
    assert "engine says" not in out and "engine writes" not in out, out[-2000:]


def test_a_serial_run_whose_engine_crashes_leaves_a_failing_report_and_its_records(tmp_path):
    """Serially an engine that kills its process ends the run there: nothing of the harness
    runs after it. The previous report (a pass, here) used to stay in the directory beside
    the run's exit status 139. Now the directory holds an unfinished run's report from the
    start (a failing gate, saying why) and the records of every claim that finished."""
    code, out = conformance(tmp_path, "--ad-subject", "broken:Right")
    one_truth(tmp_path, code, out, "pass")
    code, out = conformance(tmp_path, "--ad-subject", "broken:CrashesTheProcess")
    assert code != 0 and code != 1, out   # killed by its signal: no verdict of its own
    res = results(tmp_path)
    assert res["summary"]["gate"] == "fail" and res["summary"]["unfinished"], res["summary"]
    assert "did not finish" in res["summary"]["gate_reasons"][0]
    assert res["records"] == []
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "FAIL (unfinished)" in html and "PASS" not in html and 'class="verdict fail"' in html
    so_far = [json.loads(line) for line in
              (tmp_path / "rep" / "records-so-far.jsonl").read_text().splitlines()]
    assert {r["claim"] for r in so_far} == {"chain-scalar-sin-exp-tanh"}   # it ran first
    assert any(r["engine"] == "crashes-the-process" and r["category"] == "agree"
               for r in so_far)


def test_a_finished_run_leaves_no_records_so_far_and_reads_its_baseline_first(tmp_path):
    """The finished report replaces the unfinished one whole; --ad-baseline-json may name
    the report being replaced: it is read before the run starts."""
    code, out = conformance(tmp_path, "--ad-subject", "broken:Right")
    one_truth(tmp_path, code, out, "pass")
    code, out = conformance(tmp_path, "--ad-subject", "broken:Right", "--ad-baseline-json",
                            str(tmp_path / "rep" / "results.json"))
    res = one_truth(tmp_path, code, out, "pass")
    assert not (tmp_path / "rep" / "records-so-far.jsonl").exists()
    assert res["summary"]["report_error"] is None, res["summary"]["report_error"]
    assert "unfinished" not in res["summary"]
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "Previous gate: pass" in html   # the finished report's, not the unfinished one's


def test_a_relative_report_dir_stays_where_the_run_started_if_the_engine_moves(tmp_path):
    """An engine that changed directory moved the finished report (PASS) under its own
    directory, leaving the unfinished one (FAIL) where the user asked."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ENGINES), os.environ.get("PYTHONPATH")])))
    p = subprocess.run([sys.executable, "-m", "oracles", "-q", "--ad-oracles", "referee,fd",
                        "--ad-examples", "2", "--ad-report-dir", "rep", "-k", CLAIMS,
                        "--ad-subject", "broken:ChangesDirectory"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, env=env)
    one_truth(tmp_path, p.returncode, p.stdout + p.stderr, "pass")
    assert not (tmp_path / "elsewhere" / "rep").exists()


def test_a_run_whose_every_claim_crashes_its_worker_still_reports(tmp_path):
    """Under pytest-xdist, with every selected claim lost to a worker's crash, no record came
    in and the run wrote no report (now: it would leave the unfinished one)."""
    code, out = conformance(tmp_path, "--ad-subject", "broken:CrashesTheProcess", "-n", "2",
                            claims="fwd-example-f")
    res = results(tmp_path)
    assert code == 1 and res["summary"]["gate"] == "fail", out
    assert "unfinished" not in res["summary"]
    assert [(r["claim"], r["category"]) for r in res["records"]] == [
        ("fwd-example-f", "harness-error")]
    assert "AD conformance gate: FAIL" in out


def test_a_setup_plan_leaves_the_previous_report(tmp_path):
    code, out = conformance(tmp_path, "--ad-subject", "broken:Right")
    before = (tmp_path / "rep" / "results.json").read_text()
    code, out = conformance(tmp_path, "--ad-subject", "broken:Right", "--setup-plan")
    assert code == 0, out
    assert (tmp_path / "rep" / "results.json").read_text() == before


def test_an_unfinished_report_renders_and_warns_as_a_baseline(tmp_path):
    """`python -m reports` re-renders an unfinished run's results.json (it has no engines'
    facts); given as --ad-baseline-json it is said to count every discrepancy as new."""
    from oracles.session import UNFINISHED
    from oracles.writing import write_unfinished
    write_unfinished(tmp_path / "u", {"gate": "fail", "gate_reasons": [UNFINISHED],
                                      "unfinished": True, "subject": "ourad"}).close()
    p = subprocess.run([sys.executable, "-m", "reports", str(tmp_path / "u" / "results.json"),
                        "-o", str(tmp_path / "again.html")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "FAIL (unfinished)" in (tmp_path / "again.html").read_text()
    code, out = conformance(tmp_path, "--ad-subject", "broken:Right", "--ad-baseline-json",
                            str(tmp_path / "u" / "results.json"))
    res = one_truth(tmp_path, code, out, "pass")
    assert any("unfinished run's report" in w for w in res["summary"]["warnings"])


def test_records_so_far_never_go_to_another_runs_report(tmp_path):
    """Two runs on one directory: the first run's records file is the one it opened, so
    its appends after the second run replaced the directory never land in the second's."""
    from oracles.writing import append_records, write_unfinished
    first = write_unfinished(tmp_path / "rep", {"gate_reasons": ["a"], "unfinished": True})
    second = write_unfinished(tmp_path / "rep", {"gate_reasons": ["b"], "unfinished": True})
    append_records(first, [{"claim": "first's"}])
    append_records(second, [{"claim": "second's"}])
    first.close()
    second.close()
    lines = (tmp_path / "rep" / "records-so-far.jsonl").read_text().splitlines()
    assert [json.loads(line)["claim"] for line in lines] == ["second's"]
