"""How many threads the numerical libraries of a conformance run's process use.

A process of the run gives PyTorch (`torch.set_num_threads`) and the BLAS and OpenMP
libraries it has loaded (NumPy's OpenBLAS, a subject's own; through threadpoolctl) a fixed
number of threads, one by default (`--ad-threads`; 0 leaves each library its own choice,
usually one thread per core). Two reasons, both measured on a 2-core machine:

- Under `pytest -n N` each worker's libraries would otherwise start a thread per core, N
  workers on N cores: their threads wait on each other (OpenBLAS's and OpenMP's threads spin
  while they wait). The notes' network claim took 1.9 s serial and 2.8 s in a worker of
  `-n 2`; with one thread each 1.6 s in both, and the whole run was faster serial too.
- How a BLAS product is split among threads can change the last bits of a float32 answer,
  so the records of a float32 question depended on the machine's number of cores; pinned,
  they depend on the CPU's kind alone, serial, under `-n` and on `--tx` workers alike.

JAX is left as it is: XLA takes its thread pool when its backend starts, and its options are
part of the compiled programs' cache key (and of their answers).

Only the run does this (the plugin's session, `AdSession`), never the library API
(`oracles.harness.quick_check`, `oracles.harness.Harness`), which runs in its caller's
process. A library first loaded in the middle of a claim (a subject that imports PyTorch
inside its first call) runs that call with its own default; the run pins it before the next
claim.
"""
from __future__ import annotations

import sys

_applied: tuple | None = None   # (threads, len(sys.modules)) when last applied
_failed: list = []              # why the last attempt could not pin a library, if it could not


def apply(threads: int) -> None:
    """Pins the libraries loaded now to `threads` threads (0: leaves them). Cheap when no
    module was imported since the last call with the same number."""
    global _applied
    if not threads:
        return
    state = (threads, len(sys.modules))
    if state == _applied:
        return
    _applied = state
    torch = sys.modules.get("torch")
    try:
        if getattr(torch, "set_num_threads", None) is not None and \
                torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=threads)
        _failed.clear()
    except Exception as exc:  # noqa: BLE001 -- a run never stops here; `report` tells
        _failed[:] = [f"{type(exc).__name__}: {exc}"]


def report() -> dict:
    """The threads each library of this process runs with: PyTorch's and each BLAS or OpenMP
    library threadpoolctl finds, by its internal name ("openblas", "openmp", "mkl")."""
    out: dict = {}
    torch = sys.modules.get("torch")
    if getattr(torch, "get_num_threads", None) is not None:
        out["torch"] = torch.get_num_threads()
    if _failed:
        out["not pinned"] = _failed[0]
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        out["blas"] = "not known (threadpoolctl is not installed)"
        return out
    try:
        libs = threadpool_info()
    except Exception as exc:  # noqa: BLE001
        out["blas"] = f"not known ({type(exc).__name__}: {exc})"
        return out
    for lib in libs:
        name = lib.get("internal_api", "?")
        out[name if name not in out else f"{name} ({lib.get('prefix', '')})"] = \
            lib.get("num_threads")
    return out
