"""The PyTorch oracle's answers as arrays, whatever kind of tensor PyTorch answers with."""
import numpy as np
import pytest

torch_engine = pytest.importorskip("oracles.torch_engine")


def test_the_hvp_of_abs_at_its_kink_is_answered():
    """PyTorch answers it with a ZeroTensor, which plain conversion to NumPy refuses: the
    oracle raised on every claim that applies abs at 0."""
    eng = torch_engine.TorchEngine()
    _, (hv,) = eng.hvp(lambda xp, a: xp.abs(a), (np.array(0.0),), np.array(1.0),
                       (np.array(1.0),))
    assert hv == 0.0 and hv.dtype == np.float64
    _, (hv,) = eng.hvp(lambda xp, a: xp.abs(a) * a, (np.array(0.0),), np.array(1.0),
                       (np.array(1.0),))
    assert hv == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_answers_keep_the_questions_precision(dtype):
    eng = torch_engine.TorchEngine()
    x = np.array([0.5, -1.0], dtype)
    out, t = eng.jvp(lambda xp, a: xp.sin(a), (x,), (np.ones(2, dtype),))
    assert out.dtype == t.dtype == dtype
    out, (b,) = eng.vjp(lambda xp, a: xp.sin(a), (x,), np.ones(2, dtype))
    assert out.dtype == b.dtype == dtype
    np.testing.assert_allclose(b, np.cos(x), rtol=1e-6 if dtype == np.float32 else 1e-15)
