"""The deterministic writer: explain.template's wording of the facts, instant and always available."""
from __future__ import annotations

from iqa_core.explain import facts as explain
from iqa_core.explain.facts import Facts


class TemplateWriter:
    name = "template"
    version = "template"

    def write(self, facts: Facts) -> str:
        return explain.template(facts)
