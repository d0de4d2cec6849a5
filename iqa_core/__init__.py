"""iqa_core: explainable image assessment — quality, aesthetics, emotion, alignment, regions, explanation."""
from pathlib import Path

__version__ = "0.2.0"
PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"  # what training writes and the runtime reads: heads, detector, concepts
DATA_DIR = PACKAGE_DIR / "data"  # small tables that ship with the code (ImageNet class names)
