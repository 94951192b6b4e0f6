"""An opt-in allocator setting for large arrays (glibc only).

NumPy code that frees chains of multi-megabyte temporaries makes glibc return the memory to
the system and fault it back in on the next call: thousands of page faults per gradient of a
wide network. PyTorch avoids this with a caching allocator. `tune_allocator()` asks glibc to
keep such blocks in the heap instead (the same as setting MALLOC_MMAP_THRESHOLD_=67108864 and
MALLOC_TRIM_THRESHOLD_=1073741824 before starting Python: the two go together, either alone
does not help). It changes the whole process's allocator, so ourad never does it by itself.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def tune_allocator(mmap_threshold: int = 64 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Keep freed blocks below `mmap_threshold` bytes in the heap and trim it only past
    `trim_threshold`. Returns True where glibc's mallopt took both settings, else False.

    >>> ourad.tune_allocator()
    True
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))) and \
        bool(mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))
