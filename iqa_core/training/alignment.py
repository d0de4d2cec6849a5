"""The alignment head, trained to read the prompt: each AGIQA-3K image with its own prompt (graded by its
MOS) and with other prompts of the set, labelled as not matching: random ones, and hard ones that share
words with its own. Without the mismatched pairs the head learns image quality and the prompt moves the
score by a couple of points."""
from __future__ import annotations

import numpy as np

from iqa_core.explain.text import text_words
from iqa_core.model import features
from iqa_core.model.heads import LinearHead
from iqa_core.training.featurize import ALIGN_INPUTS, POWER_TECHNICAL, Featurized
from iqa_core.training.fit import correlations, fit_ridge, folds

ALIGN_OUT = {"out_a": 20.0, "clip": (0.0, 100.0)}  # MOS 0-5 -> 0-100
RANDOM_NEGATIVES, HARD_NEGATIVES = 2, 1  # mismatched prompts per image in training
HARD_WEIGHT = 0.5  # a hard negative may still half-match (same subject, other style): it counts for less
SEED = 0


def _words(ag: Featurized) -> list[set[str]]:
    return [set(text_words(s.prompt)) for s in ag.samples]


def pick_negatives(ag: Featurized, seed: int = SEED, n_random: int = RANDOM_NEGATIVES,
                   n_hard: int = HARD_NEGATIVES) -> list[tuple[int, int, str]]:
    """(image row, row whose prompt it is paired with, "random" | "hard"): other prompts only (another
    group); hard ones share the most content words with the image's own prompt (Jaccard)."""
    rng = np.random.default_rng(seed)
    groups, words = ag.groups, _words(ag)
    out = []
    for i in range(len(groups)):
        others = np.flatnonzero(groups != groups[i])
        out += [(i, int(j), "random") for j in rng.choice(others, n_random, replace=False)]
        if n_hard:
            overlap = np.array([len(words[i] & words[j]) / max(len(words[i] | words[j]), 1) for j in others])
            best = others[np.argsort(-overlap, kind="stable")[: 5 * n_hard]]  # among the 5 closest, at random
            out += [(i, int(j), "hard") for j in rng.choice(best, n_hard, replace=False)]
    return out


def pair_features(ag: Featurized, pairs: list[tuple[int, int, str]], name_emb: np.ndarray) -> np.ndarray:
    """ALIGN_INPUTS rows for image i read against the prompt of row j."""
    rows = []
    for i, j, _ in pairs:
        blocks = {"image": ag.blocks["image"][i], "concept": ag.blocks["concept"][i],
                  **features.text_blocks(ag.blocks["text"][j], ag.concepts[i], name_emb)}
        rows.append(features.stack(blocks, ALIGN_INPUTS))
    return np.stack(rows) if rows else np.zeros((0, ag.x(ALIGN_INPUTS).shape[1]), np.float32)


def fit_alignment(ag: Featurized, rows: np.ndarray, neg: list[tuple[int, int, str]], x_neg: np.ndarray,
                  prior: np.ndarray) -> LinearHead:
    """Ridge on the images `rows` with their own prompts and their mismatched pairs (labelled as the lowest
    alignment in the set)."""
    y = ag.y("alignment")
    keep = np.isin([i for i, _, _ in neg], rows)
    x = np.concatenate([ag.x(ALIGN_INPUTS)[rows], x_neg[keep]])
    target = np.concatenate([y[rows], np.full(int(keep.sum()), float(y.min()), np.float32)])
    weight = np.concatenate([np.ones(len(rows), np.float32),
                             np.array([HARD_WEIGHT if k == "hard" else 1.0 for (_, _, k), m in zip(neg, keep) if m],
                                      np.float32)])
    return fit_ridge(x, target, "alignment", ALIGN_INPUTS, prior, weight, **ALIGN_OUT)


def prompt_contrast(own: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """How often the own prompt scores above another, and by how many points on average."""
    return {"own_wins": round(float((own > other).mean()), 4), "margin": round(float((own - other).mean()), 2)}


def train_alignment(ag: Featurized, name_emb: np.ndarray, negatives: bool = True) -> tuple[LinearHead, list[dict]]:
    """The head, and its report: grouped 5-fold CV on the matching pairs (SRCC/PLCC against the MOS) and,
    on fresh mismatched pairs of each test fold's images, how often the own prompt wins."""
    prior = ag.prior(ALIGN_INPUTS, POWER_TECHNICAL)
    y, n = ag.y("alignment"), len(ag.samples)
    neg = pick_negatives(ag) if negatives else []
    x_neg = pair_features(ag, neg, name_emb)
    check = pick_negatives(ag, seed=SEED + 1, n_random=1, n_hard=1)  # never trained on
    x_check = pair_features(ag, check, name_emb)
    kinds = np.array([k for _, _, k in check])
    image_of = np.array([i for i, _, _ in check])
    own, other = np.zeros(n, np.float32), np.zeros(len(check), np.float32)
    for tr, te in folds(ag.groups):
        head = fit_alignment(ag, tr, neg, x_neg, prior)
        own[te] = head.predict(ag.x(ALIGN_INPUTS)[te])
        test = np.isin(image_of, te)
        other[test] = head.predict(x_check[test])
    head = fit_alignment(ag, np.arange(n), neg, x_neg, prior)
    out = {"head": "alignment", "data": "agiqa3k" + (" (+ mismatched prompts)" if negatives else ""), "n": n,
           "train": correlations(head.predict(ag.x(ALIGN_INPUTS)), y), "cv": correlations(own, y)}
    for kind in ("random", "hard"):
        out[f"own_vs_{kind}"] = prompt_contrast(own[image_of[kinds == kind]], other[kinds == kind])
    return head, [out]
