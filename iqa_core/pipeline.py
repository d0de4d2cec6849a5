"""The assessment pipeline, as Hugging Face's Pipeline splits it: preprocess (decode, metadata) -> forward
(encode, measures, heads; regions begun) -> postprocess (subject, regions, attributes, explanation), with
typed hand-offs between the stages (Prepared, ModelOutputs). Plain data in, Assessment out; `assess` is the
one public call.
"""
from __future__ import annotations

import time
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from iqa_core import __version__, explain
from iqa_core.analysis import attributes, measured, reference, regions, subject
from iqa_core.analysis.measured import Measured
from iqa_core.assessment import Assessment, NativeCrop, Region, Sentiment
from iqa_core.explain import writers
from iqa_core.inputs.load import LoadedImage, load_image
from iqa_core.inputs.metadata import Metadata, from_user, merge
from iqa_core.model import features, native_crops
from iqa_core.model.encoders.lite import FeatureMaps, LiteEncoder
from iqa_core.model.heads import HEADS_FILE, GatedHead, LinearHead, check_encoder, load_heads
from iqa_core.registry import create, parse
from iqa_core.runtime import beside, one_blas_thread
from iqa_core.scores import EMOTIONS, TEXT_PRIORITY

FIELDS = ("quality", "aesthetics", "alignment", "valence", "arousal", "emotions", "sentiment", "attributes",
          "regions", "explanation")


@dataclass
class Prepared:
    """preprocess -> forward: the decoded image and its merged metadata."""
    loaded: LoadedImage
    metadata: Metadata
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class ModelOutputs:
    """forward -> postprocess: the encoder's maps, the feature blocks and every head's output."""
    maps: FeatureMaps
    blocks: dict[str, np.ndarray]
    text: str | None  # the text alignment was measured against
    scores: dict[str, float]  # quality, aesthetics, alignment (with text), valence, arousal, attr_* heads
    emotions: np.ndarray  # (7,) in scores.EMOTIONS order
    p_positive: float
    ai_generated: float | None = None  # the quality gate's AI-image share, where the head has a gate
    native: list[NativeCrop] = field(default_factory=list)  # a large image's crops at its pixels
    measured: Measured | None = None  # what was measured of the image beside the encoder (or in line)
    regions: Future | None = None  # Assessor._regions run beside the heads (None: in line, in postprocess)


@dataclass
class Assessed:
    """What `assess_with_image` returns: the result and the decoded image it was computed on."""
    assessment: Assessment
    image: Image.Image


@contextmanager
def _timed(timings: dict[str, float], stage: str):
    t0 = time.perf_counter()
    yield
    timings[stage] = round((time.perf_counter() - t0) * 1000.0, 2)


class Assessor:
    """Loads every model once; `assess` is safe to call from many threads one at a time per call."""

    def __init__(self, heads_path: Path = HEADS_FILE, scorer: str | None = None, writer: str = "template"):
        """scorer: optionally a spec (see iqa_core.registry) of a zero-shot backend, "hf:<id or folder>" /
        "local-dir:<folder>" (CLIP/SigLIP) or "mllm:<id or folder>", whose scores replace the lite heads' for
        the fields it can score (attributes and regions stay lite). writer: the explanation writer's spec."""
        self.encoder = LiteEncoder()
        self.heads = load_heads(heads_path)
        # The image-to-sentence map is an input of the alignment head, not a score of its own.
        self.projection = self.heads.pop("text_projection", None)
        check_encoder(heads_path, self.encoder.image.config)
        self.writer = writers.get_writer(writer)
        self.models = dict(self.encoder.versions, heads=f"iqa_core-heads@{__version__}",
                           explanation=self.writer.version)
        self.backends = dict.fromkeys(FIELDS, "lite") | {"explanation": self.writer.name}
        self.zero_shot, self.zero_shot_fields = None, ()
        if scorer:
            spec = parse(scorer, "scorer")
            self.zero_shot, self.zero_shot_fields = create(spec), spec.backend.fields
            self.models["zero_shot"] = self.zero_shot.version
            self.backends.update(dict.fromkeys(self.zero_shot_fields, spec.raw))

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
    def forward(self, batch: list[Prepared]) -> list[ModelOutputs]:
        measuring = [measured.ahead(p.loaded.image) for p in batch]  # the maps are not needed for it
        t0 = time.perf_counter()
        # A zero-shot quality backend replaces the head's score: its crops would only cost time.
        crops = [native_crops.crops(p.loaded.image) if self.backends["quality"] == "lite" else [] for p in batch]
        maps = iter(self.encoder.encode_images([im for p, cs in zip(batch, crops)
                                                for im in [p.loaded.image] + [c for _, c in cs]]))
        encode_ms = (time.perf_counter() - t0) * 1000.0 / len(batch)
        outs = []
        for prep, cs, pending in zip(batch, crops, measuring):
            fm, crop_maps = next(maps), [next(maps) for _ in cs]
            prep.timings["encode"] = round(encode_ms, 2)
            with _timed(prep.timings, "measure"):  # what is left of it after the encoder, or all of it in line
                done = measured.result(pending, prep.loaded.image)
            # The regions read the maps and the measuring, not the heads: with a spare core they run beside them.
            regions_pending = beside(self._regions, fm, prep.loaded.image, done)
            with _timed(prep.timings, "heads"):
                outs.append(self._heads(prep, fm, [box for box, _ in cs], crop_maps))
            outs[-1].measured, outs[-1].regions = done, regions_pending
        return outs

    def _regions(self, fm: FeatureMaps, image: Image.Image, done: Measured) -> tuple[list, list[Region]]:
        """The region segments and their Regions (scores, damage, outlines)."""
        segs, scores, issues = regions.compute(fm, self.heads["quality"].predict, image=image, working=done.working,
                                               evidence=done.evidence)
        return segs, regions.describe(segs, scores, issues)

    def _native(self, boxes: list, crop_maps: list[FeatureMaps]) -> list[NativeCrop]:
        q = self.heads["quality"]
        x = np.stack([features.stack(features.image_blocks(fm, self.encoder.name_embeddings), q.inputs)
                      for fm in crop_maps])
        with one_blas_thread():
            scores = q.predict(x)
        return [NativeCrop(list(box), round(float(v), 2)) for box, v in zip(boxes, scores)]

    def _heads(self, prep: Prepared, fm: FeatureMaps, boxes: list = (), crop_maps: list[FeatureMaps] = ()
               ) -> ModelOutputs:
        names = self.encoder.name_embeddings
        blocks = features.image_blocks(fm, names)
        sources = prep.metadata.text_sources()
        text = next((sources[k] for k in TEXT_PRIORITY if sources.get(k)), None)
        if text:
            text_emb = self.encoder.text.embed([text])[0]
            blocks.update(features.text_blocks(text_emb, fm.concepts, names))
            if self.projection is not None:
                projected = self.projection.predict(features.stack(blocks, self.projection.inputs)[None])[0]
                blocks.update(features.projection_block(projected, text_emb))
        raw, ai_generated, kernels = {}, None, {}
        with one_blas_thread():
            for name, head in self.heads.items():
                if name == "alignment" and not text:
                    continue
                x = features.stack(blocks, head.inputs)[None]
                raw[name] = (head.predict(x, kernels) if isinstance(head, LinearHead) else head.predict(x))[0]
                if isinstance(head, GatedHead) and name == "quality":
                    ai_generated = float(head.domains(x)[0, head.gate.classes.index("ai")])
        if self.zero_shot is not None:
            zs = self.zero_shot.zero_shot([prep.loaded.image], [text], metadata=[sources])[0]
            raw.update({k: zs[k] for k in self.zero_shot_fields if k != "emotions" and zs.get(k) is not None})
            if "emotions" in self.zero_shot_fields:
                raw["emotions"] = np.array([zs["emotions"][e] for e in EMOTIONS])
        scores = {k: float(v) for k, v in raw.items() if k not in ("emotions", "sentiment")}
        return ModelOutputs(fm, blocks, text, scores, np.asarray(raw["emotions"]), float(raw["sentiment"][1]),
                            ai_generated, self._native(boxes, crop_maps) if boxes else [])

    # -- postprocess ------------------------------------------------------------------------------------
    def postprocess(self, prep: Prepared, out: ModelOutputs) -> Assessment:
        t = prep.timings
        img = prep.loaded.image
        s = out.scores
        quality, aesthetics, alignment = s["quality"], s["aesthetics"], s.get("alignment")
        emotions = {e: round(float(p), 4) for e, p in zip(EMOTIONS, out.emotions)}
        valence, arousal = s["valence"], s["arousal"]
        p_pos = out.p_positive
        sentiment = Sentiment("positive" if p_pos >= 0.5 else "negative", round(max(p_pos, 1 - p_pos), 4))
        q = self.heads["quality"]
        done = out.measured
        working = done.working  # measured once, read by the subject, attributes and regions
        with _timed(t, "subject"):
            found = subject.find(out.maps, self.encoder.image.classifier, working, self.encoder.names)
            with one_blas_thread():  # the AI expert's kernel part is a product threaded BLAS would spin on
                found.subject.quality = round(float(q.predict(features.pool_regions(out.maps.maps,
                                                                                   [found.grid]))[0]), 2)
        with _timed(t, "regions"):  # what is left of them after the heads and the subject, or all in line
            segs, region_list = out.regions.result() if out.regions is not None else self._regions(out.maps, img, done)
            subject.judge_regions(region_list, [sg.mask for sg in segs], found)
            if self.backends["quality"] == "lite":  # a zero-shot backend's score stays as it gave it
                # The subject weighs more than the backdrop; a large image's crops then add what its pixels show.
                quality = subject.blend_quality(quality, region_list, found.subject.quality)
                quality = native_crops.blend(quality, [c.quality for c in out.native])
        with _timed(t, "attributes"):
            stats = dict(done.stats)
            stats.update(subject.focus_stats(found.subject))
            stats["top_concept_probability"] = float(out.maps.concepts.max())
            learned = {a: s[h] for a, h in attributes.LEARNED.items()}
            table = reference.load()
            attrs = attributes.build(learned, quality, stats, emotions, valence, arousal, out.maps.concepts,
                                     table)
        seen_as = features.auto_tags(out.maps.concepts, self.encoder.names)
        with _timed(t, "explanation"):
            facts = explain.gather(quality, aesthetics, alignment, attrs, region_list, emotions, sentiment.label,
                                   valence, arousal, seen_as, stats, metadata=prep.metadata,
                                   support=explain.ConceptSupport(self.encoder.text.embed,
                                                                  self.encoder.name_embeddings,
                                                                  self.encoder.names, out.maps.concepts),
                                   subject=found.subject)
            written = writers.explain(facts, self.writer)
        pct, pct_ref = reference.percentiles(dict(quality=quality, aesthetics=aesthetics, alignment=alignment,
                                                  valence=valence, arousal=arousal), out.ai_generated, table)
        meta = prep.metadata.to_dict()
        meta["auto_tags"] = seen_as
        t["total"] = round(sum(v for k, v in t.items() if k != "total"), 2)
        return Assessment(
            image=prep.loaded.name, width=prep.loaded.original_size[0], height=prep.loaded.original_size[1],
            quality=round(quality, 2), aesthetics=round(aesthetics, 2),
            alignment=None if alignment is None else round(alignment, 2),
            valence=round(valence, 3), arousal=round(arousal, 3), emotions=emotions, sentiment=sentiment,
            attributes=attrs, regions=region_list, metadata=meta, explanation=written.text, timings_ms=dict(t),
            models=dict(self.models, **written.models()), backends=dict(self.backends, explanation=written.writer),
            notes=list(prep.loaded.notes),
            native_crops=out.native,
            whole_quality=round(s["quality"], 2) if self.backends["quality"] == "lite" else None,
            ai_generated=None if out.ai_generated is None else round(out.ai_generated, 4),
            subject=found.subject, percentiles=pct, percentile_reference=pct_ref)

    # -- public ---------------------------------------------------------------------------------------
    def assess_with_image(self, src, **kwargs) -> Assessed:
        """As `assess`, with the decoded image (oriented, RGB, size-capped) for an overlay."""
        prep = self.preprocess(src, **kwargs)
        return Assessed(self.postprocess(prep, self.forward([prep])[0]), prep.loaded.image)

    def assess(self, src, **kwargs) -> Assessment:
        """src: a path, bytes or a PIL image; kwargs: name, prompt, negative_prompt, tags, caption."""
        return self.assess_with_image(src, **kwargs).assessment

    def assess_batch(self, items: list[tuple[object, dict]]) -> list[Assessment]:
        """items: (src, keyword arguments of preprocess). Raises ImageLoadError for the first bad item;
        use workflows.batch to keep going past bad files."""
        preps = [self.preprocess(src, **kw) for src, kw in items]
        return [self.postprocess(p, o) for p, o in zip(preps, self.forward(preps))]
