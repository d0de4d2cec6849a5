"""Process-level tuning shared by the app, the batch runner, the encoder and the LLM writer: the thread
budget, glibc's malloc arenas and the cache folder for converted models."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path

CACHE_ENV = "IQA_CACHE"

M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """Where converted models are cached: root, else $IQA_CACHE, else ~/.cache/iqa_core."""
    return Path(root or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "iqa_core").expanduser()


def compute_threads() -> int:
    """Threads one forward pass may use: torch's count where torch is loaded (configure_server and the batch
    runner split it between concurrent requests), else every core. The ONNX engine reads it per call, so one
    knob governs both engines."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else os.cpu_count() or 1


@contextmanager
def torch_threads(n: int):
    """Run a block with n torch threads (the count is process-wide, and the ONNX engine reads it as its
    budget: compute_threads), then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def configure_server(concurrency: int) -> None:
    """For a server that runs `concurrency` requests at once: torch threads split between them, and malloc
    arenas capped. With more torch threads than free cores, OpenMP's waiting threads spin against each
    other: an encode that takes 0.12 s on one thread took over 3 s on two while another job held the
    other core."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, concurrency)))
    limit_malloc_arenas()


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
