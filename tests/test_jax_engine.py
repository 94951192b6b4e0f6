"""The JAX oracle's compiled programs: one program answers jvp, vjp and hvp alike, the eager
answer stands where a program cannot be traced, and the compiled programs are forgotten before
the process runs out of memory maps."""
import numpy as np
import pytest

jax_engine = pytest.importorskip("oracles.jax_engine")


def f(xp, x, y):
    return xp.sum(xp.tanh(x * y) ** 2) + xp.sin(x[0]) * y[1]


X = (np.array([0.3, -1.2, 0.7]), np.array([1.1, 0.4, -0.5]))
V = (np.array([0.2, 0.5, -1.0]), np.array([-0.3, 0.8, 0.1]))
U = np.array(1.7)


def eager(eng, kind, *args):
    """The same question without any compiled program."""
    saved = jax_engine.JIT_MAX_SIZE, jax_engine.COMPILE_AFTER
    jax_engine.JIT_MAX_SIZE, jax_engine.COMPILE_AFTER = -1, float("inf")
    try:
        return getattr(eng, kind)(f, *args)
    finally:
        jax_engine.JIT_MAX_SIZE, jax_engine.COMPILE_AFTER = saved


@pytest.mark.parametrize("kind,args", [("jvp", (X, V)), ("vjp", (X, U)), ("hvp", (X, U, V))])
def test_one_program_answers_each_question_as_eager_jax_does(kind, args):
    eng = jax_engine.JaxEngine()
    out, d = getattr(eng, kind)(f, *args)
    out_e, d_e = eager(jax_engine.JaxEngine(), kind, *args)
    np.testing.assert_allclose(out, out_e, rtol=1e-15)
    for a, b in zip(d if isinstance(d, tuple) else [d], d_e if isinstance(d_e, tuple) else [d_e]):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    assert callable(eng._compiled[f, True])   # answered by the compiled program


def test_the_three_questions_share_one_program_per_shape():
    eng = jax_engine.JaxEngine()
    eng.jvp(f, X, V)
    eng.vjp(f, X, U)
    eng.hvp(f, X, U, V)
    assert len(eng._compiled) == 1 and len(eng._programs) == 1
    eng.jvp(f, (np.ones(5), np.ones(5)), (np.ones(5), np.ones(5)))
    assert len(eng._programs) == 2   # a new shape is a new program of the same function


def test_float32_questions_compile_a_first_order_program():
    eng = jax_engine.JaxEngine()
    x32 = tuple(a.astype(np.float32) for a in X)
    out, t = eng.jvp(f, x32, tuple(v.astype(np.float32) for v in V))
    assert t.dtype == np.float32 and set(eng._compiled) == {(f, False)}
    out, t64 = eng.jvp(f, X, V)
    np.testing.assert_allclose(t, t64, rtol=1e-5)
    _, hv = eng.hvp(f, x32, np.float32(U), tuple(v.astype(np.float32) for v in V))
    _, hv64 = eng.hvp(f, X, U, V)
    for a, b in zip(hv, hv64):
        np.testing.assert_allclose(a, b, rtol=1e-4)
    assert set(eng._compiled) == {(f, False), (f, True)}


QUESTIONS = [("jvp", (X, V)), ("vjp", (X, U)), ("hvp", (X, U, V))]


def _same(a, b):
    for p, q in zip(a if isinstance(a, tuple) else [a], b if isinstance(b, tuple) else [b]):
        np.testing.assert_allclose(p, q, rtol=1e-14, atol=1e-15)


def test_a_large_question_is_compiled_alone_from_its_nth_ask(monkeypatch):
    monkeypatch.setattr(jax_engine, "JIT_MAX_SIZE", 2)   # X counts as large
    monkeypatch.setattr(jax_engine, "COMPILE_AFTER", 3)
    eng = jax_engine.JaxEngine()
    eager_answers = {}
    for kind, args in QUESTIONS:   # asked twice: eagerly
        eager_answers[kind] = getattr(eng, kind)(f, *args)
        getattr(eng, kind)(f, *args)
    assert eng._compiled == {}
    for kind, args in QUESTIONS:   # the third ask: compiled, a program of that kind alone
        out, d = getattr(eng, kind)(f, *args)
        assert callable(eng._compiled[f, kind, "large"])
        _same(out, eager_answers[kind][0])
        _same(d, eager_answers[kind][1])
    assert len(eng._programs) == 3


def test_asks_are_counted_per_claim_so_no_record_depends_on_what_ran_before(monkeypatch):
    """A compiled program's answers differ from eager JAX's in the last bits: whether a
    question is answered compiled depends on the asks of the claim running, never on
    another claim's before it in the process (serial and pytest-xdist runs would differ)."""
    monkeypatch.setattr(jax_engine, "JIT_MAX_SIZE", 2)
    monkeypatch.setattr(jax_engine, "COMPILE_AFTER", 3)
    eng = jax_engine.JaxEngine()
    eng.begin("a")
    for _ in range(3):
        eng.vjp(f, X, U)
    assert callable(eng._compiled[f, "vjp", "large"])
    eng.begin("b")   # another claim with the same formula: eager again from its first ask
    calls = []
    real = eng._compiled[f, "vjp", "large"]
    eng._compiled[f, "vjp", "large"] = lambda *a: calls.append(1) or real(*a)
    eng.vjp(f, X, U)
    eng.vjp(f, X, U)
    assert calls == []
    eng.vjp(f, X, U)
    assert calls == [1]
    eng.begin("b")   # the same claim again (a benchmark's loop): the count goes on
    eng.vjp(f, X, U)
    assert calls == [1, 1]


def test_a_large_formula_that_looks_at_values_stays_eager(monkeypatch):
    def g(xp, x):
        return xp.sin(x) if x[0] > 0 else x

    monkeypatch.setattr(jax_engine, "JIT_MAX_SIZE", 2)
    monkeypatch.setattr(jax_engine, "COMPILE_AFTER", 1)
    eng = jax_engine.JaxEngine()
    x = (np.array([0.5, 1.0, 2.0]),)
    for _ in range(2):
        out, (bar,) = eng.vjp(g, x, np.ones(3))
        np.testing.assert_allclose(bar, np.cos(x[0]), rtol=1e-15)
    assert eng._compiled[g, "vjp", "large"] is False


def test_an_error_of_f_itself_on_a_large_question_keeps_its_program(monkeypatch):
    def g(xp, x):
        if x.shape[0] == 2:
            raise ValueError("f refuses two entries")
        return xp.sin(x)

    monkeypatch.setattr(jax_engine, "JIT_MAX_SIZE", 1)
    monkeypatch.setattr(jax_engine, "COMPILE_AFTER", 1)
    eng = jax_engine.JaxEngine()
    eng.jvp(g, (np.ones(3),), (np.ones(3),))
    with pytest.raises(ValueError, match="refuses"):
        eng.jvp(g, (np.ones(2),), (np.ones(2),))
    eng.jvp(g, (np.ones(4),), (np.ones(4),))
    assert callable(eng._compiled[g, "jvp", "large"])


def test_a_formula_that_looks_at_values_is_answered_eagerly():
    def g(xp, x):
        return xp.sin(x) if x[0] > 0 else x   # Python control flow on a value

    eng = jax_engine.JaxEngine()
    x = (np.array([0.5, 1.0, 2.0]),)
    out, (bar,) = eng.vjp(g, x, np.ones(3))
    np.testing.assert_allclose(bar, np.cos(x[0]), rtol=1e-15)
    assert eng._compiled[g, True] is False


def test_an_error_of_f_itself_is_raised_and_the_program_kept():
    def g(xp, x):
        if x.shape[0] == 2:
            raise ValueError("f refuses two entries")
        return xp.sin(x)

    eng = jax_engine.JaxEngine()
    eng.jvp(g, (np.ones(3),), (np.ones(3),))
    with pytest.raises(ValueError, match="refuses"):
        eng.jvp(g, (np.ones(2),), (np.ones(2),))
    eng.jvp(g, (np.ones(4),), (np.ones(4),))
    assert callable(eng._compiled[g, True])


def test_an_unknown_compiler_option_is_dropped(monkeypatch):
    monkeypatch.setattr(jax_engine, "_OPTIONS", [{"xla_no_such_option_here": True}])
    eng = jax_engine.JaxEngine()
    out, t = eng.jvp(f, X, V)
    out_e, t_e = eager(jax_engine.JaxEngine(), "jvp", X, V)
    np.testing.assert_allclose(t, t_e, rtol=1e-14)
    assert jax_engine._OPTIONS == [None]


def test_only_the_unknown_option_is_dropped(monkeypatch):
    known = dict(jax_engine.COMPILER_OPTIONS)
    monkeypatch.setattr(jax_engine, "_OPTIONS", [dict(known, xla_no_such_option_here=True)])
    eng = jax_engine.JaxEngine()
    out, t = eng.jvp(f, X, V)
    out_e, t_e = eager(jax_engine.JaxEngine(), "jvp", X, V)
    np.testing.assert_allclose(t, t_e, rtol=1e-14)
    assert jax_engine._OPTIONS == [known]


def test_programs_are_forgotten_when_the_memory_maps_run_short(monkeypatch):
    eng = jax_engine.JaxEngine()
    monkeypatch.setattr(jax_engine, "MAPS_EVERY", 1)
    monkeypatch.setattr(jax_engine, "_maps_full", lambda: False)
    for n in range(1, 4):
        eng.jvp(f, (np.ones(n), np.ones(n)), (np.ones(n), np.ones(n)))
    assert len(eng._programs) == 3
    monkeypatch.setattr(jax_engine, "_maps_full", lambda: True)
    eng.jvp(f, (np.ones(7), np.ones(7)), (np.ones(7), np.ones(7)))
    assert len(eng._programs) == 1 and len(eng._compiled) == 1


def test_without_proc_the_programs_are_counted(monkeypatch):
    eng = jax_engine.JaxEngine()
    monkeypatch.setattr(jax_engine, "_maps_full", lambda: None)
    monkeypatch.setattr(jax_engine, "MAX_PROGRAMS", 2)
    for n in range(1, 4):
        eng.jvp(f, (np.ones(n), np.ones(n)), (np.ones(n), np.ones(n)))
    assert len(eng._programs) == 1   # cleared at the third


def test_the_maps_reading_is_a_share_of_the_limit():
    full = jax_engine._maps_full()
    assert full in (None, False)   # a test process holds far fewer than half its maps
