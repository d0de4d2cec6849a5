"""An MLLM (any family of iqa_core.model.encoders.mllm) as the explanation writer: writer="mllm:<id|folder>".

It reads the same facts the SmolLM2 writer gets, as short bullet lines built from the template's own
phrases, continues a true opening sentence, decodes greedily (the same facts give the same text) and stops
after a few sentences; explain() then gates the text with the faithfulness check, so a text that cites a
wrong number falls back to the template with the reason. The prompt is text only: the facts already say
what the image shows, and a text-only turn works in every family's chat template. A scorer and a writer of
the same spec share one loaded model.
"""
from __future__ import annotations

import threading

import torch

from iqa_core.explain.facts import Facts
from iqa_core.explain.writers.smollm import ASK, SYSTEM, SmolLM2Writer, _NoEarlyEnd, _NoRepeat, _SentenceStop, tidy
from iqa_core.model.encoders.mllm.load import load
from iqa_core.registry import Spec, parse


class MLLMWriter(SmolLM2Writer):
    """SmolLM2Writer's prompt (bullets, opening) on an image-text-to-text model's language half."""

    def __init__(self, spec: str | Spec, device: str | None = None, max_new_tokens: int = 80,
                 max_sentences: int = 3, prime: bool = True):
        parsed = parse(spec, "writer")
        self.name = parsed.raw
        self.max_new_tokens, self.max_sentences, self.prime = max_new_tokens, max_sentences, prime
        self._lock = threading.Lock()
        self.last: dict = {}
        loaded = load(parsed, device)  # load now: a bad spec fails when the Assessor is built, not mid-request
        self.model, self.processor, self.device = loaded.model, loaded.processor, loaded.device
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.version = loaded.version

    def messages(self, f: Facts) -> list[dict]:
        # One user turn with text parts: every family's template takes it; not all take a system turn.
        text = f"{SYSTEM}\nFacts about my image:\n" + "\n".join(self.bullets(f)) + "\n" + ASK
        return [{"role": "user", "content": [{"type": "text", "text": text}]}]

    def write(self, facts: Facts) -> str:
        tok = self.tokenizer
        opening = self.opening(facts) if self.prime else ""
        prompt = self.processor.apply_chat_template(self.messages(facts), add_generation_prompt=True)
        ids = tok(prompt + opening, return_tensors="pt", add_special_tokens=False).to(self.device)
        n_in = ids["input_ids"].shape[1]
        from transformers import LogitsProcessorList, StoppingCriteriaList

        wanted = self.max_sentences - (1 if opening else 0)
        with self._lock, torch.inference_mode():
            out = self.model.generate(**ids, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      logits_processor=LogitsProcessorList([_NoRepeat(n_in),
                                                                            _NoEarlyEnd(tok, n_in, wanted)]),
                                      stopping_criteria=StoppingCriteriaList([_SentenceStop(tok, n_in, wanted)]),
                                      pad_token_id=tok.pad_token_id or tok.eos_token_id)
        raw = tok.decode(out[0, n_in:], skip_special_tokens=True)
        self.last = {"prompt_tokens": n_in, "new_tokens": int(out.shape[1] - n_in), "raw": raw}
        return tidy(opening + (" " if opening and raw[:1] not in (" ", "\n") else "") + raw, self.max_sentences)
