"""The assessment pipeline: preprocess (decode, metadata) -> forward (encode, heads) -> postprocess
(attributes, regions, explanation), as Hugging Face's Pipeline splits it. Plain data in, Assessment out.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from iqa_core import __version__
from iqa_core.analysis import attributes
from iqa_core.explain import facts as explain
from iqa_core.model import features
from iqa_core.analysis import measure
from iqa_core.analysis import regions
from iqa_core.explain import writers
from iqa_core.assessment import Assessment, Sentiment
from iqa_core.model.encoders.lite import FeatureMaps
from iqa_core.model.encoders.registry import LiteEncoder, get_encoder
from iqa_core.model.heads import HEADS_FILE, GatedHead, load_heads
from iqa_core.inputs.load import LoadedImage, load_image
from iqa_core.inputs.metadata import Metadata, from_user, merge
from iqa_core.scores import EMOTIONS

TEXT_PRIORITY = ("prompt", "caption", "tags")  # the text that alignment is measured against
ZERO_SHOT_FIELDS = ("quality", "aesthetics", "alignment", "valence", "arousal", "emotions")


@dataclass
class Prepared:
    loaded: LoadedImage
    metadata: Metadata
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], stage: str):
    t0 = time.perf_counter()
    yield
    timings[stage] = round((time.perf_counter() - t0) * 1000.0, 2)


class Assessor:
    """Loads every model once; `assess` is safe to call from many threads one at a time per call."""

    def __init__(self, heads_path: Path = HEADS_FILE, scorer: str | None = None, writer: str = "template"):
        """scorer: optionally "hf:<id or folder>" / "local-dir:<folder>", a CLIP/SigLIP model whose zero-shot
        scores replace the lite heads' for the fields it can score (attributes and regions stay lite), or
        "mllm:<id or folder>", an image-text-to-text model that scores quality, aesthetics and alignment.
        writer: the explanation writer, "template" (default) or "smollm2" (see iqa_core.explain.writers)."""
        self.encoder = LiteEncoder()
        self.heads = load_heads(heads_path)
        self.models = dict(self.encoder.versions, heads=f"iqa_core-heads@{__version__}", explanation="template")
        self.backends = {k: "lite" for k in ("quality", "aesthetics", "alignment", "valence", "arousal",
                                             "emotions", "sentiment", "attributes", "regions", "explanation")}
        self.writer = writers.get_writer(writer)
        self.models["explanation"] = self.writer.version
        self.backends["explanation"] = self.writer.name
        self.zero_shot = None
        if scorer and scorer.startswith("mllm:"):
            from iqa_core.model.encoders.mllm import MLLMScorer

            self.zero_shot = MLLMScorer(scorer)
            self.models["zero_shot"] = self.zero_shot.version
            self.backends.update({k: scorer for k in self.zero_shot.fields})
        elif scorer:
            self.zero_shot = get_encoder(scorer)
            self.models["zero_shot"] = self.zero_shot.version
            self.backends.update({k: scorer for k in ZERO_SHOT_FIELDS})

    # -- preprocess -------------------------------------------------------------------------------------
    def preprocess(self, src, name: str | None = None, prompt: str | None = None, tags=None,
                   caption: str | None = None, negative_prompt: str | None = None) -> Prepared:
        timings: dict[str, float] = {}
        with _timed(timings, "decode"):
            loaded = load_image(src, name=name)
        with _timed(timings, "metadata"):
            meta = merge(loaded.embedded, from_user(prompt=prompt, negative_prompt=negative_prompt, tags=tags,
                                                     caption=caption))
        return Prepared(loaded, meta, timings)

    # -- forward ----------------------------------------------------------------------------------------
    def _alignment_text(self, meta: Metadata) -> str | None:
        sources = meta.text_sources()
        return next((sources[k] for k in TEXT_PRIORITY if sources.get(k)), None)

    def forward(self, batch: list[Prepared]) -> list[dict]:
        t0 = time.perf_counter()
        maps = self.encoder.encode_images([p.loaded.image for p in batch])
        encode_ms = (time.perf_counter() - t0) * 1000.0 / len(batch)
        outs = []
        for prep, fm in zip(batch, maps):
            prep.timings["encode"] = round(encode_ms, 2)
            with _timed(prep.timings, "heads"):
                outs.append(self._heads(prep, fm))
        return outs

    def _heads(self, prep: Prepared, fm: FeatureMaps) -> dict:
        names = self.encoder.name_embeddings
        blocks = features.image_blocks(fm, names)
        text = self._alignment_text(prep.metadata)
        if text:
            blocks.update(features.text_blocks(self.encoder.text.embed([text])[0], fm.concepts, names))
        out = {"fm": fm, "blocks": blocks, "has_text": bool(text)}
        for name, head in self.heads.items():
            if name == "alignment" and not text:
                continue
            x = features.stack(blocks, head.inputs)[None]
            out[name] = head.predict(x)[0]
            if isinstance(head, GatedHead) and name == "quality":
                out["ai_generated"] = float(head.domains(x)[0, head.gate.classes.index("ai")])
        if self.zero_shot is not None:
            fields = getattr(self.zero_shot, "fields", ZERO_SHOT_FIELDS)
            extra = {"metadata": [prep.metadata.text_sources()]} if fields != ZERO_SHOT_FIELDS else {}
            zs = self.zero_shot.zero_shot([prep.loaded.image], [text], **extra)[0]
            out.update({k: zs[k] for k in fields if k != "emotions" and zs.get(k) is not None})
            if "emotions" in fields:
                out["emotions"] = np.array([zs["emotions"][e] for e in EMOTIONS])
        return out

    # -- postprocess ------------------------------------------------------------------------------------
    def postprocess(self, prep: Prepared, out: dict) -> Assessment:
        t = prep.timings
        img = prep.loaded.image
        quality = float(out["quality"])
        emotions = {e: round(float(p), 4) for e, p in zip(EMOTIONS, out["emotions"])}
        valence, arousal = float(out["valence"]), float(out["arousal"])
        p_pos = float(out["sentiment"][1])
        sentiment = Sentiment("positive" if p_pos >= 0.5 else "negative", round(max(p_pos, 1 - p_pos), 4))
        with _timed(t, "attributes"):
            stats = measure.measure(img)
            stats["top_concept_probability"] = float(out["fm"].concepts.max())
            stats["feature_distance"] = self._feature_distance(out["blocks"]["image"])
            learned = {a: float(out[h]) for a, h in attributes.LEARNED.items()}
            attrs = attributes.build(learned, quality, stats, emotions, valence, arousal,
                                     self.heads["quality"].info["distance_quantiles"])
        with _timed(t, "regions"):
            q = self.heads["quality"]
            region_list = regions.score_regions(out["fm"], lambda x: q.predict(x), image=img)
        seen_as = features.auto_tags(out["fm"].concepts, self.encoder.names)
        alignment = float(out["alignment"]) if "alignment" in out else None
        with _timed(t, "explanation"):
            facts = explain.gather(quality, float(out["aesthetics"]), alignment, attrs, region_list, emotions,
                                   sentiment.label, valence, arousal, seen_as, stats, metadata=prep.metadata,
                                   text_priority=TEXT_PRIORITY, support=explain.ConceptSupport(
                                       lambda texts: self.encoder.text.embed(texts), self.encoder.name_embeddings,
                                       self.encoder.names, out["fm"].concepts))
            written = writers.explain(facts, self.writer)
            text = written.text
        meta = prep.metadata.to_dict()
        meta["auto_tags"] = seen_as
        t["total"] = round(sum(v for k, v in t.items() if k != "total"), 2)
        return Assessment(
            image=prep.loaded.name, width=prep.loaded.original_size[0], height=prep.loaded.original_size[1],
            quality=round(quality, 2), aesthetics=round(float(out["aesthetics"]), 2),
            alignment=None if alignment is None else round(alignment, 2),
            valence=round(valence, 3), arousal=round(arousal, 3), emotions=emotions, sentiment=sentiment,
            attributes=attrs, regions=region_list, metadata=meta, explanation=text, timings_ms=dict(t),
            models=dict(self.models, **written.models()), backends=dict(self.backends, explanation=written.writer),
            notes=list(prep.loaded.notes),
            ai_generated=round(out["ai_generated"], 4) if "ai_generated" in out else None)

    def _feature_distance(self, image_block: np.ndarray) -> float:
        q = self.heads["quality"]
        z = (image_block - q.mean) / q.scale
        return float(np.sqrt(np.mean(z * z)))

    # -- public ---------------------------------------------------------------------------------------
    def assess(self, src, **kwargs) -> Assessment:
        prep = self.preprocess(src, **kwargs)
        return self.postprocess(prep, self.forward([prep])[0])

    def assess_batch(self, items: list[tuple[object, dict]]) -> list[Assessment]:
        """items: (src, keyword arguments of preprocess). Raises ImageLoadError for the first bad item;
        use the CLI's batch runner to keep going past bad files."""
        preps = [self.preprocess(src, **kw) for src, kw in items]
        return [self.postprocess(p, o) for p, o in zip(preps, self.forward(preps))]


def overlay_image(assessment: Assessment, image: Image.Image) -> Image.Image:
    return regions.overlay(image, assessment.regions)
