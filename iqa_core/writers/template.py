"""The deterministic writer: explain.template's wording of the facts, instant and always available."""
from __future__ import annotations

from .. import explain
from ..explain import Facts


class TemplateWriter:
    name = "template"
    version = "template"

    def write(self, facts: Facts) -> str:
        return explain.template(facts)
