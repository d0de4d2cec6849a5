"""Batch on Ray Data: the file list -> `map_batches` over a pool of actors, each holding one Assessor -> rows
back to the caller, in file order, for batch.ResultWriter. Local Ray by default, a cluster by address.

Every actor calls batch.assess_file, the local engine's per-file step, so both engines give the same rows.
A worker that dies is replaced (max_restarts) and the batch it held is run again (max_task_retries); the
caller only receives the rows of batches that finished, so each file comes back exactly once.
"""
from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from iqa_core.workflows.batch import assess_file, list_images

BATCH_SIZE = 4  # files per actor call, the unit a replacement worker runs again: small, so little is redone
MAX_BLOCKS = 10_000  # beyond this, blocks grow rather than Ray Data's per-block bookkeeping
# A batch whose worker dies is run again this often before the job fails: a file that crashes its worker
# every time (not an unreadable file: that is an error row) must not loop forever.
TASK_RETRIES = 3


class AssessBatch:
    """Ray Data's callable class: the Assessor is built once, when the actor starts, never per batch."""

    def __init__(self, folder: str, metadata: Mapping[str, dict[str, str]]):
        from iqa_core.pipeline import Assessor

        self.assessor = Assessor()
        self.folder = Path(folder)
        self.metadata = metadata

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [assess_file(self.assessor, Path(p), self.folder, self.metadata) for p in batch["path"]]
        # JSON text rather than Arrow structs: rows differ in shape (error rows, regions, evidence keys) and
        # Python's JSON round-trips floats exactly, so the caller gets the local engine's dicts back.
        return {"row": np.array([json.dumps(r, ensure_ascii=False) for r in rows], dtype=object)}


@contextmanager
def session(address: str | None = None, num_cpus: int | None = None):
    """Ray for one job: join the cluster at `address` or start an embedded local Ray with num_cpus, and shut
    it down afterwards. A Ray the caller already started is used as it is and left running."""
    import ray

    if ray.is_initialized():
        yield
        return
    if address:
        ray.init(address=address)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()


def default_workers() -> int:
    """One single-threaded actor per CPU that Ray sees (the local engine's finding: one image per core)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def run(folder: Path, metadata: Mapping[str, dict[str, str]] | None = None, files: Iterable[Path] | None = None,
        workers: int | None = None, batch_size: int = BATCH_SIZE) -> Iterator[dict]:
    """Yield one dict per file, in file order, as batch.run does; needs Ray running (see `session`).

    Paths are made absolute because a worker's working folder is not the caller's; on a cluster the folder
    must be visible at the same path on every node (a shared volume)."""
    import ray.data
    from ray.util.annotations import RayDeprecationWarning

    folder = Path(folder).absolute()
    paths = [Path(p).absolute() for p in files] if files is not None else list_images(folder)
    if not paths:
        return
    blocks = min(MAX_BLOCKS, math.ceil(len(paths) / batch_size))
    ds = ray.data.from_items([{"path": str(p)} for p in paths], override_num_blocks=blocks)
    with warnings.catch_warnings():
        # Ray 2.60 reads max_restarts / max_task_retries only from the extra keyword arguments, which it
        # marks deprecated in favour of named ones it does not have yet for these two.
        warnings.simplefilter("ignore", RayDeprecationWarning)
        rows = ds.map_batches(AssessBatch, fn_constructor_kwargs={"folder": str(folder), "metadata": dict(metadata or {})},
                              batch_size=batch_size, batch_format="numpy", num_cpus=1,
                              compute=ray.data.ActorPoolStrategy(size=workers or default_workers()),
                              max_restarts=-1, max_task_retries=TASK_RETRIES)
    rows.context.execution_options.preserve_order = True  # rows in file order; this dataset's context only
    for item in rows.iter_rows():
        yield json.loads(item["row"])
