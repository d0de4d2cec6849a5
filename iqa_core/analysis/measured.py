"""What is measured of an image before its features exist: the working copy with its shared filter responses,
the measured statistics (measure.measure) and the region evidence. None of it reads the encoder's maps, so a
single request with a spare core measures it on a second thread while the encoder runs: ONNX Runtime's two
threads leave part of the second core idle between operators, and the measuring (numpy and OpenCV, which
release the GIL for most of their time) fills it. A batch worker with one thread measures in line.
"""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

from PIL import Image

from iqa_core.analysis import measure
from iqa_core.analysis.regions.evidence import Evidence
from iqa_core.analysis.regions.segment import GRID
from iqa_core.runtime import beside


@dataclass
class Measured:
    working: measure.WorkingCopy
    stats: dict[str, float]  # measure.measure's statistics, before the subject's replace its focus ones
    evidence: Evidence


def measure_image(image: Image.Image) -> Measured:
    working = measure.WorkingCopy.of(image)
    evidence = Evidence(working)
    evidence.channels(GRID, GRID)  # what the feature segmentation reads of it, and the severity of its labels
    evidence.cells((GRID, GRID))
    return Measured(working, measure.measure(working), evidence)


def ahead(image: Image.Image) -> Future | None:
    """measure_image on a second thread where this request's budget has a core to spare, else None (the
    caller measures in line)."""
    return beside(measure_image, image)


def result(pending: Future | None, image: Image.Image) -> Measured:
    return pending.result() if pending is not None else measure_image(image)
