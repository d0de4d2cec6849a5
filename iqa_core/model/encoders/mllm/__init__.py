"""Image-text-to-text models (MLLMs) as a zero-shot scorer: families, loading, scoring."""
from iqa_core.model.encoders.mllm.families import FAMILIES, Family, family_of
from iqa_core.model.encoders.mllm.load import load
from iqa_core.model.encoders.mllm.scorer import (
                                                 FIELDS,
                                                 IntegerTokensError,
                                                 MLLMScorer,
                                                 expected_score,
                                                 find_classes,
                                                 question,
)

__all__ = ["FAMILIES", "Family", "family_of", "load", "FIELDS", "IntegerTokensError", "MLLMScorer",
           "expected_score", "find_classes", "question"]
