"""Batch on worker processes of this machine: each worker holds its own Assessor (loaded once, when it starts)
and runs batch.assess_file, the local engine's per-file step, so the rows are the same; they come back in
file order.

Why processes: about half of an image's time is numpy and Python work that holds the GIL, so two threads
share one core for it; two processes keep both cores busy (benchmarks/speed.py measures the engines).
Memory: each worker holds the models (about 250 MB without torch), the parent none.

A worker that dies (a crash in a decoder or an out-of-memory kill) breaks the pool: the pool is restarted and
the files that were in flight run again one at a time, so the file that kills a worker again is found and
reported as an error row; every other file still gets its row.
"""
from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from iqa_core.workflows.batch import assess_file, error_row, worker_threads

_assessor = None  # the worker's own Assessor


def _start(threads: int) -> None:
    global _assessor
    from iqa_core.pipeline import Assessor
    from iqa_core.runtime import set_thread_budget

    set_thread_budget(threads)
    _assessor = Assessor()


def _assess(path: str, folder: str, metadata: Mapping[str, dict[str, str]]) -> dict:
    return assess_file(_assessor, Path(path), Path(folder), metadata)


def _name(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else path.name


def run(folder: Path, metadata: Mapping[str, dict[str, str]], files: list[Path], workers: int = 2,
        context: mp.context.BaseContext | None = None) -> Iterator[dict]:
    """Yield one row per file, in file order (see batch.run). context: the multiprocessing start method
    (default spawn: a worker starts from a clean interpreter, never from a copy of a threaded parent)."""
    folder, files = Path(folder), [Path(f) for f in files]
    workers = max(1, min(workers, len(files)))  # a worker without a file would only load the models
    threads = worker_threads(workers)
    context = context or mp.get_context("spawn")

    def pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(threads,))

    executor = pool()
    # Files in flight during a crash: rerun one at a time, so a second crash names the file that caused it.
    suspects: set[Path] = set()
    pending: deque[tuple[Path, Future]] = deque()
    i = 0
    try:
        while i < len(files) or pending:
            limit = 1 if suspects else 2 * workers  # at most 2 x workers in flight: memory stays flat
            while i < len(files) and len(pending) < limit:
                name = _name(files[i], folder)  # only this file's metadata travels to the worker
                own = {name: metadata[name]} if name in metadata else {}
                pending.append((files[i], executor.submit(_assess, str(files[i]), str(folder), own)))
                i += 1
            path, future = pending[0]
            try:
                row = future.result()
            except BrokenProcessPool:
                executor.shutdown(wait=True, cancel_futures=True)
                executor = pool()
                if len(pending) == 1 and path in suspects:
                    pending.clear()
                    suspects.discard(path)
                    yield error_row(_name(path, folder),
                                    "the worker assessing this file stopped (crashed or killed); skipped")
                    continue
                suspects.update(p for p, _ in pending)
                i -= len(pending)
                pending.clear()
                continue
            pending.popleft()
            suspects.discard(path)
            yield row
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
