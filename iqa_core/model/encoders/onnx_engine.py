"""The encoders on ONNX Runtime: graphs exported from the shipped PyTorch weights at first use and cached,
then run without torch. On 2 cores the image encoder runs about twice as fast as the fused PyTorch graph,
with stage maps equal to about 1e-4 (benchmarks/speed.py, tests/test_onnx.py); the text encoder starts
without importing torch or transformers."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from iqa_core.runtime import cache_root, compute_threads, write_atomically

OPSET = 17


def graph_file(key: str, name: str, root: str | os.PathLike | None = None) -> Path:
    """Cached graph: one folder per model version (key), one file per graph name, opset and ORT version."""
    return cache_root(root) / "onnx" / key / f"{name}-opset{OPSET}-ort{ort.__version__}.onnx"


def ensure_graph(path: Path, export: Callable[[str, int], None]) -> Path:
    """The cached graph, exported now by export(file, opset) (a few seconds, needs torch) if missing.
    Written to a temporary name and renamed, so a process reading it concurrently never sees half a file."""
    if not path.is_file():
        write_atomically(path, lambda tmp: export(str(tmp), OPSET))
    return path


class Sessions:
    """Sessions of one graph, one per thread count: ONNX Runtime fixes its intra-op threads when a session is
    made, and the process's budget (runtime.compute_threads) differs between a single request and a batch
    worker. A process uses one or two counts."""

    def __init__(self, path: Path):
        self.path = path
        self._by_threads: dict[int, ort.InferenceSession] = {}
        self._lock = threading.Lock()
        self.get()  # load now: a first request should not pay for graph optimisation

    def get(self, threads: int | None = None) -> ort.InferenceSession:
        threads = threads or compute_threads()
        with self._lock:
            if threads not in self._by_threads:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                # Idle pool threads sleep rather than spin: on a shared 2-core machine spinning threads take
                # the core another request or process needs.
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._by_threads[threads] = ort.InferenceSession(str(self.path), opts,
                                                                 providers=["CPUExecutionProvider"])
            return self._by_threads[threads]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.get().run(None, feeds)


class OnnxStages:
    """Engine "onnx" of the image encoder: (1, 3, S, S) float32 in, [stage maps..., head map, logits] out,
    as lite_torch.TorchStages."""

    def __init__(self, variant: str, key: str, sizes: tuple[int, ...], root: str | os.PathLike | None = None):
        self.sessions = {size: Sessions(ensure_graph(graph_file(key, str(size), root), _lite_export(variant, size)))
                         for size in sizes}

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return self.sessions[x.shape[-1]].run({"image": x})


def _lite_export(variant: str, size: int) -> Callable[[str, int], None]:
    def export(file: str, opset: int) -> None:
        from iqa_core.model.encoders.lite_torch import export_onnx  # torch only when the cache misses

        export_onnx(variant, size, file, opset)
    return export
