"""Training runs end to end on a small subset, and the shipped weights reproduce training-time scores."""
import json
import shutil

import numpy as np
import pytest

from iqa_core.model.heads import HEADS_FILE, GatedHead, heads_files, load_heads, stored_arrays
from iqa_core.training import train
from iqa_core.training.aesthetics import ATTRIBUTE_HEADS


def test_training_smoke(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv("IQA_FEATURE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "heads.safetensors"
    assert train.main(["--limit", "30", "--out", str(out), "--data", str(data_root)]) == 0
    heads = load_heads(out)
    assert {"quality", "aesthetics", "alignment", "valence", "arousal", "emotions", "sentiment"} <= set(heads)
    assert isinstance(heads["quality"], GatedHead) and set(heads["quality"].experts) == {"ai", "photo"}
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert all("cv" in r and "train" in r for r in report["reports"])
    joint = {r["data"] for r in report["reports"] if r["head"] == "quality (common scale)"}
    assert joint == {"agiqa3k", "livec", "para (quality votes)"}


def test_shipped_weights_reproduce_training(assessor, data_root):
    report = json.loads((HEADS_FILE.parent / "training_report.json").read_text())
    assert report["limit"] is None, "the shipped heads must be trained on the full dev sets"
    for ref in report["reference"]:
        a = assessor.assess(_path(data_root, ref))
        # The assessment's quality blends the head with the subject-weighted region map: the head's own
        # score is the forward pass's.
        head = assessor.forward([assessor.preprocess(_path(data_root, ref))])[0].scores["quality"]
        assert head == pytest.approx(ref["quality"], abs=0.05)
        assert a.aesthetics == pytest.approx(ref["aesthetics"], abs=0.05)
        assert a.valence == pytest.approx(ref["valence"], abs=0.01)


def _path(root, ref):
    folder = {"agiqa3k": "agiqa3k-dev", "livec": "livec-dev", "para": "para-dev", "emotion6": "emotion6-dev"}
    return root / folder[ref["dataset"]] / "images" / ref["image"]


def test_iovqa_head_reads_back_scores_on_the_target_scale(tmp_path):
    import numpy as np

    from iqa_core.model.heads import MeanHead, save_heads
    from iqa_core.training.fit import fit_expected, fit_ridge, srcc

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 40)).astype(np.float32)
    y = 3.0 + x[:, :5].sum(1) * 0.4 + rng.normal(scale=0.2, size=300)  # a MOS-like score around 3
    groups = np.arange(300) // 3
    head = fit_expected(x[:200], y[:200], "q", ["image"], groups[:200], out_a=10.0, out_c=5.0)
    assert head.kind == "expected" and head.info["decay"] > 0
    pred = head.predict(x[200:])
    assert srcc(pred, y[200:]) > 0.8
    assert abs(pred.mean() - (10.0 * y[200:].mean() + 5.0)) < 2.0  # back on the caller's scale
    pair = MeanHead("q", [fit_ridge(x[:200], y[:200], "q", ["image"], out_a=10.0, out_c=5.0), head])
    save_heads({"q": pair}, tmp_path / "h.safetensors")
    loaded = load_heads(tmp_path / "h.safetensors")["q"]
    assert isinstance(loaded, MeanHead) and [m.kind for m in loaded.members] == ["regression", "expected"]
    assert np.allclose(loaded.predict(x[200:]), pair.predict(x[200:]), atol=0.01)  # weights are stored in float16


def test_block_prior_lets_a_narrow_informative_block_count():
    """A 4-wide block carries the signal, a 400-wide block is noise: weighing blocks alike (power 1)
    ranks held-out rows better than plain z-scores, where the wide block dominates the penalty."""
    import numpy as np

    from iqa_core.training.fit import block_scale, fit_ridge, srcc

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 404)).astype(np.float32)
    y = x[:, :4] @ np.array([1.0, -0.5, 0.8, 0.3]) + rng.normal(scale=1.0, size=200)
    plain = fit_ridge(x[:100], y[:100], "q", ["image"], block_scale([4, 400], 0.0))
    alike = fit_ridge(x[:100], y[:100], "q", ["image"], block_scale([4, 400], 1.0))
    assert block_scale([4, 400], 1.0)[[0, 4]].tolist() == [2.0, 20.0]
    assert srcc(alike.predict(x[100:]), y[100:]) > srcc(plain.predict(x[100:]), y[100:]) + 0.05


def test_gated_head_routes_each_domain_to_its_expert_and_round_trips(tmp_path):
    """Two domains that rank the same feature oppositely: one ridge over both fails, the gated head
    (expert per domain, gate on a domain-revealing feature) ranks each domain well and reloads exactly."""
    import numpy as np

    from iqa_core.model.heads import save_heads
    from iqa_core.training import quality
    from iqa_core.training.fit import fit_ridge, srcc

    rng = np.random.default_rng(2)
    n = {"agiqa3k": 120, "livec": 80, "para": 80}
    xs, ys, groups = [], [], []
    for name, k in n.items():
        x = rng.normal(size=(k, 6)).astype(np.float32)
        x[:, 5] += 3.0 if name == "agiqa3k" else -3.0  # what the gate can see
        sign = 1.0 if name == "agiqa3k" else -1.0  # the domains rank feature 0 oppositely
        xs.append(x)
        ys.append(sign * x[:, 0] + 0.1 * rng.normal(size=k))
        groups += [f"{name}:{i}" for i in range(k)]
    x, y, groups = np.concatenate(xs), np.concatenate(ys), np.array(groups)
    head = quality.fit_gated(x, y, groups, np.ones(6, np.float32))
    ai, photo = slice(0, 120), slice(120, None)
    assert head.domains(x[ai])[:, 1].mean() > 0.9 and head.domains(x[photo])[:, 0].mean() > 0.9
    assert srcc(head.predict(x[ai]), y[ai]) > 0.9 and srcc(head.predict(x[photo]), y[photo]) > 0.9
    single = fit_ridge(x, y, "q", ["image"])
    assert srcc(single.predict(x[ai]), y[ai]) < 0.5  # the majority (photos) sets its sign
    save_heads({"quality": head}, tmp_path / "h.safetensors")
    loaded = load_heads(tmp_path / "h.safetensors")["quality"]
    assert isinstance(loaded, GatedHead) and loaded.gate.classes == list(quality.DOMAINS)
    assert np.allclose(loaded.predict(x), head.predict(x), atol=0.01)  # weights are stored in float16


def test_gate_only_images_teach_the_gate_and_leave_the_experts_alone():
    # Emotion6's photos have no quality labels: they only tell the gate what photos from elsewhere look like.
    from iqa_core.training import quality

    rng = np.random.default_rng(1)
    sets = np.array(["agiqa3k"] * 100 + ["livec"] * 100)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    x[:, 5] += np.where(sets == "agiqa3k", 3.0, -3.0)
    y = x[:, 0] + 0.1 * rng.normal(size=200)
    groups = np.array([f"{s}:{i}" for i, s in enumerate(sets)])
    elsewhere = rng.normal(size=(100, 6)).astype(np.float32)
    elsewhere[:, 5] += 1.0  # photos that sit nearer the AI images than the training photos do
    assert "emotion6" in quality.GATE_ONLY and quality.DOMAIN["emotion6"] == "photo"
    prior = np.ones(6, np.float32)
    before = quality.fit_gated(x, y, groups, prior)
    after = quality.fit_gated(x, y, groups, prior, gate_only=(elsewhere[:50], np.array(["emotion6"] * 50)))
    photo = quality.DOMAINS.index("photo")
    assert before.domains(elsewhere[50:])[:, photo].mean() < 0.5 < after.domains(elsewhere[50:])[:, photo].mean()
    assert after.domains(x[sets == "agiqa3k"])[:, photo].mean() < 0.25  # the AI images stay AI images
    for d in quality.DOMAINS:
        assert np.allclose(before.experts[d].predict(x), after.experts[d].predict(x))


def test_expert_reads_only_the_sets_it_weighs():
    # benchmarks/expert_weights.py refits the experts with other dataset weights and IOVQA choices: a weight of 0
    # leaves a set's rows out, and IOVQA pairs a class head with the ridge.
    from iqa_core.model.heads import MeanHead
    from iqa_core.training import quality
    from iqa_core.training.fit import srcc

    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    sets = np.array(["agiqa3k"] * 100 + ["livec"] * 100)
    y = np.where(sets == "agiqa3k", x[:, 0], -x[:, 0]) + 0.1 * rng.normal(size=200)  # opposite rankings
    prior = np.ones(5, np.float32)
    alone = quality.fit_expert(x, y, sets, prior, {"agiqa3k": 1.0, "livec": 0.0}, iovqa=False)
    mixed = quality.fit_expert(x, y, sets, prior, {"agiqa3k": 1.0, "livec": 1.0}, iovqa=False)
    ai = sets == "agiqa3k"
    assert srcc(alone.predict(x[ai]), y[ai]) > 0.95 > srcc(mixed.predict(x[ai]), y[ai])
    paired = quality.fit_expert(x, y, sets, prior, {"agiqa3k": 1.0, "livec": 0.0}, iovqa=True)
    assert isinstance(paired, MeanHead) and len(paired.members) == 2
    assert np.allclose(paired.members[0].predict(x), alone.predict(x))  # the same ridge inside
    assert srcc(paired.predict(x[ai]), y[ai]) > 0.9
    bent = quality.fit_expert(x, y, sets, prior, {"agiqa3k": 1.0, "livec": 0.0}, iovqa=True, kernel=True)
    assert bent.members[0].landmarks.shape[0] == 100  # the kernel part sees only the rows it weighs
    assert srcc(bent.predict(x[ai]), y[ai]) > 0.9


def test_fold_seeds_draw_other_grouped_splits():
    # benchmarks/repeated_cv.py reruns the recipes on other outer splits: each seed keeps groups whole and
    # tests every row once, and another seed puts rows in other folds.
    from iqa_core.training.fit import SEED, folds

    groups = np.repeat(np.arange(40), 3)
    splits = {seed: folds(groups, seed=seed) for seed in (SEED, SEED + 1)}
    for split in splits.values():
        tested = np.concatenate([te for _, te in split])
        assert np.array_equal(np.sort(tested), np.arange(len(groups)))
        assert all(not set(groups[tr]) & set(groups[te]) for tr, te in split)
    fold_of = [np.concatenate([np.full(len(te), k) for k, (_, te) in enumerate(s)])[np.argsort(np.concatenate(
        [te for _, te in s]))] for s in splits.values()]
    assert (fold_of[0] != fold_of[1]).mean() > 0.3
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(folds(groups, seed=7), folds(groups, seed=7)))


def test_train_only_set_is_in_every_training_part_and_never_scored():
    # para-train's quality votes join the experts in every training part; CV folds, reports and the ranker's
    # pairs stay the scored sets' (so the reported folds are those of the recipe without it).
    from iqa_core.training import common_scale, quality

    sets = np.array(["agiqa3k"] * 20 + ["livec"] * 20 + ["para"] * 20 + ["para_train"] * 10 + ["agiqa3k"] * 2)
    n_rated = 70
    rng = np.random.default_rng(0)
    qd = common_scale.QualityData(
        x=rng.normal(size=(72, 4)).astype(np.float32), z=np.concatenate([rng.normal(size=70), [np.nan] * 2]),
        sets=sets, groups=np.array([f"{s}:{i}" for i, s in enumerate(sets[:70])] + ["agiqa3k:0"] * 2),
        source=np.concatenate([np.arange(70), [0, 0]]), kind=np.array([""] * 70 + ["blur", "blur"]),
        severity=np.array([0] * 70 + [1, 2]), n_rated=n_rated, gate_x=np.zeros((0, 4), np.float32),
        gate_sets=np.array([], str))
    assert set(quality.TRAIN_ONLY) == {"para_train"} and "para_train" not in quality.SCORED_SETS
    assert np.array_equal(qd.train_only, np.arange(60, 70)) and np.array_equal(qd.scored, np.arange(60))
    parts = []

    class Constant:
        def predict(self, x):
            return np.ones(len(x), np.float32)

    def fit(rows):
        parts.append(rows)
        return Constant()

    pred = common_scale.cross_validate(qd, np.ones(4, np.float32), fit)
    assert len(parts) == 5 and all(set(qd.train_only) <= set(p) for p in parts)
    assert (pred[qd.train_only] == 0).all() and (pred[qd.scored] == 1).all() and (pred[70:] == 1).all()
    rows = np.arange(72)
    pairs = common_scale.pairs_for(qd, rows)
    touched = set(rows[pairs.a]) | set(rows[pairs.b])
    assert touched and not touched & set(qd.train_only)


def test_mirrored_view_is_cached_apart_and_lies_near_its_image(tmp_path, monkeypatch, data_root):
    from iqa_core.model.encoders.lite import LiteEncoder
    from iqa_core.training.featurize import featurize

    monkeypatch.setenv("IQA_FEATURE_CACHE", str(tmp_path))
    enc = LiteEncoder()
    plain, mirror = (featurize("emotion6", enc, data_root, 6, view=v).x(["image"]) for v in (None, "flip"))
    assert sorted(p.name.endswith("-flip.npz") for p in tmp_path.iterdir()) == [False, True]
    assert not np.allclose(plain, mirror)
    # Pooled stage statistics barely see a left-right mirror: each image is nearer its own mirror than any other.
    dist = np.linalg.norm(plain[:, None] - mirror[None], axis=2)
    assert (dist.argmin(1) == np.arange(len(plain))).all()
    with pytest.raises(KeyError):
        featurize("emotion6", enc, data_root, 6, view="rotate")


@pytest.mark.parametrize("part, refitted", [("para", {*ATTRIBUTE_HEADS, "aesthetics"}),
                                            ("emotion", {"valence", "arousal", "emotions", "sentiment"})])
def test_part_refit_keeps_every_other_head(tmp_path, monkeypatch, data_root, part, refitted):
    monkeypatch.setenv("IQA_FEATURE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "heads.safetensors"
    for f in heads_files():
        shutil.copy(f, tmp_path / f.name)
    shutil.copy(train.REPORT_FILE, tmp_path / train.REPORT_FILE.name)
    before = stored_arrays(out)
    args = [f"--{part}-only", "--limit", "40", "--para-train", "40", "--out", str(out), "--data", str(data_root)]
    assert train.main(args) == 0
    after = stored_arrays(out)
    assert set(after) == set(before)
    for key in (k for k, v in before.items() if v.size):  # empty class_values are alike in every head
        same = np.array_equal(before[key], after[key])
        assert same == (key.split(".")[0].split("#")[0] not in refitted), key  # only the part's heads refitted
    report = json.loads((tmp_path / train.REPORT_FILE.name).read_text())
    old = json.loads(train.REPORT_FILE.read_text())
    assert [r["head"] for r in report["reports"]] == [r["head"] for r in old["reports"]]
    assert [r for r in report["reports"] if r["head"].split(" ")[0] not in refitted] == \
        [r for r in old["reports"] if r["head"].split(" ")[0] not in refitted]
    assert report["para_train"] == 40
    heads = load_heads(out)
    if part == "para":
        assert all("aesthetics_share" in heads[name].info for name in ATTRIBUTE_HEADS)
    else:  # a smoke run: the shipped class prior all the same
        assert heads["sentiment"].info["positive_share"] == 0.7
