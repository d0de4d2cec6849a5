"""Process-level tuning shared by the app, the batch runner, the encoder and the LLM writer: the thread
budget, glibc's malloc arenas and the cache folder for converted models."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

CACHE_ENV = "IQA_CACHE"

M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


@functools.cache
def _blas():
    """numpy's BLAS libraries, found once (threadpoolctl comes with scikit-learn); None without it."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    return ThreadpoolController()


def one_blas_thread():
    """A block whose small matrix products (heads, regions) run on one BLAS thread: on a shared 2-core
    machine, beside the encoder's threads or other worker processes, more threads only spin against each
    other."""
    ctl = _blas()
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else nullcontext()


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """Where converted models are cached: root, else $IQA_CACHE, else ~/.cache/iqa_core."""
    return Path(root or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "iqa_core").expanduser()


_budget: int | None = None  # threads per forward pass, set by thread_budget / configure_server


def compute_threads() -> int:
    """Threads one forward pass may use (both engines and the LLM writer read it): the innermost
    thread_budget, else configure_server's share, else every core. Kept here, not as torch's thread count,
    so that the ONNX path never imports torch (about 2 s and 150 MB)."""
    return _budget or os.cpu_count() or 1


def set_thread_budget(n: int | None) -> None:
    """Set (None: clear) the process's thread budget."""
    global _budget
    _budget = n
    torch = sys.modules.get("torch")  # torch's own count follows where something has loaded it
    if torch is not None:
        torch.set_num_threads(compute_threads())


@contextmanager
def thread_budget(n: int):
    """Run a block with a budget of n threads per forward pass (process-wide, as torch's count is), then
    restore the previous budget."""
    before = _budget
    set_thread_budget(max(1, n))
    try:
        yield
    finally:
        set_thread_budget(before)


def configure_server(concurrency: int) -> None:
    """For a server that runs `concurrency` requests at once: the thread budget split between them, and malloc
    arenas capped. With more torch threads than free cores, OpenMP's waiting threads spin against each
    other: an encode that takes 0.12 s on one thread took over 3 s on two while another job held the
    other core."""
    set_thread_budget(max(1, (os.cpu_count() or 1) // max(1, concurrency)))
    limit_malloc_arenas()


_BESIDE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="iqa-beside")  # idle threads cost nothing


def beside(fn: Callable, *args) -> Future | None:
    """fn(*args) on a second thread where this request's budget has a core to spare, else None (the caller
    runs it in line). For work that numpy, OpenCV, Pillow and BLAS do with the GIL released for most of it."""
    return _BESIDE.submit(fn, *args) if compute_threads() > 1 else None


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """write(temporary file) then rename it to path: a process reading the cache concurrently never sees half
    a file. The temporary name keeps path's suffix (writers such as np.save and the ONNX exporter read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def cached_array(key: str, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    """An array derived from shipped weights (e.g. a layer read from the PyTorch model), cached under
    cache_root() / "arrays" / key, so that later processes need not load what it was read from."""
    path = cache_root() / "arrays" / key / f"{name}.npy"
    if path.is_file():
        return np.load(path)
    arr = np.asarray(make())
    write_atomically(path, lambda tmp: np.save(tmp, arr))
    return arr


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
