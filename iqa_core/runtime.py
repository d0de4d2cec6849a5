"""Process-level tuning shared by the app, the batch runner and the LLM writer: torch's thread count and
glibc's malloc arenas."""
from __future__ import annotations

import ctypes
import ctypes.util
from contextlib import contextmanager

M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


@contextmanager
def torch_threads(n: int):
    """Run a block with n torch threads (the count is process-wide), then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def limit_malloc_arenas(n: int = 2) -> bool:
    """Cap glibc's malloc arenas. A server runs each request on a different worker thread and glibc gives
    threads arenas of their own that it rarely returns: under 32 clients the app's memory rose by about
    100 MB a minute without the cap and stayed flat with it (benchmarks/load.py). False where there is no
    glibc (macOS, Windows, musl): nothing to do there."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, n))
    except (OSError, AttributeError, TypeError):
        return False
