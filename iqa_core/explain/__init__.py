"""The explanation stage: facts gathered from an assessment (facts, text), worded by a writer (template, or a
language model under writers/) and checked against the facts (writers/faithfulness)."""
from iqa_core.explain.facts import Facts, band, gather
from iqa_core.explain.template import REGION_ISSUES, TemplateWriter, template
from iqa_core.explain.text import ConceptSupport

__all__ = ["Facts", "band", "gather", "REGION_ISSUES", "TemplateWriter", "template", "ConceptSupport"]
