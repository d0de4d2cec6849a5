"""iqa_core: explainable image assessment — quality, aesthetics, emotion, alignment, regions, explanation."""
__version__ = "0.1.0"
