"""EfficientNet-Lite on ONNX Runtime: the graph exported from the shipped PyTorch weights at first use and
cached, then run without torch. On 2 cores it encodes about twice as fast as the fused PyTorch graph, with
stage maps equal to about 1e-4 (benchmarks/speed.py, tests/test_onnx.py)."""
from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import numpy as np
import onnxruntime as ort

from iqa_core.model.encoders.lite import distribution, weights_version
from iqa_core.runtime import cache_root, compute_threads

OPSET = 17


def model_file(variant: str, size: int, root: str | os.PathLike | None = None) -> Path:
    """The cached graph: one file per weights version, input size, opset and ONNX Runtime version."""
    key = f"{variant}@{distribution(variant)}-{weights_version(variant)}"
    return cache_root(root) / "onnx" / key / f"{size}-opset{OPSET}-ort{ort.__version__}.onnx"


def ensure_model(variant: str, size: int, root: str | os.PathLike | None = None) -> Path:
    """The cached graph, exported now (a few seconds, needs torch) if missing. Written to a temporary name
    and renamed, so a process that reads it concurrently never sees half a file."""
    path = model_file(variant, size, root)
    if not path.is_file():
        from iqa_core.model.encoders.lite_torch import export_onnx

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}.onnx")
        try:
            export_onnx(variant, size, str(tmp), OPSET)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


class OnnxStages:
    """Engine "onnx": (1, 3, S, S) float32 in, [stage maps..., head map, logits] out, as TorchStages."""

    def __init__(self, variant: str, sizes: tuple[int, ...], root: str | os.PathLike | None = None):
        self.files = {size: ensure_model(variant, size, root) for size in sizes}
        self._sessions: dict[tuple[int, int], ort.InferenceSession] = {}
        self._lock = threading.Lock()
        for size in sizes:  # load now: a first request should not pay for graph optimisation
            self._session(size, compute_threads())

    def _session(self, size: int, threads: int) -> ort.InferenceSession:
        """One session per input size and thread count: ONNX Runtime fixes its intra-op threads when a
        session is made, and the process's budget (runtime.compute_threads) differs between a single
        request and a batch worker. A process uses one or two counts."""
        key = (size, threads)
        with self._lock:
            if key not in self._sessions:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                # Idle pool threads sleep rather than spin: on a shared 2-core machine spinning threads
                # take the core another request or process needs.
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[key] = ort.InferenceSession(str(self.files[size]), opts,
                                                           providers=["CPUExecutionProvider"])
            return self._sessions[key]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return self._session(x.shape[-1], compute_threads()).run(None, {"image": x})
