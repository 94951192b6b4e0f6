"""ourad: a small forward- and reverse-mode automatic differentiation library over NumPy.

>>> import ourad
>>> from ourad import xp
>>> ourad.grad(lambda x: xp.sin(x) * x)(1.0)
"""
from . import xp
from .memory import tune_allocator
from .primitive import count_flops, primal_of
from .rules import RULES
from .trace import trace
from .transforms import grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp

__all__ = ["xp", "jvp", "vjp", "grad", "value_and_grad", "jacfwd", "jacrev", "hessian",
           "count_flops", "trace", "RULES", "primal_of", "tune_allocator"]
__version__ = "0.1.0"
