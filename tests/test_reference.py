"""The bundled examples score exactly as recorded in tests/data (see tests/reference.py)."""
import json

import pytest

from tests.reference import REFERENCE_FILE, assess_cases


@pytest.fixture(scope="module")
def current(assessor):
    return assess_cases(assessor)


def _numbers(tree, path=""):
    """Every number in a nested result, keyed by its path."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _numbers(v, f"{path}/{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, float(tree)


def test_every_score_matches_the_reference(current):
    reference = json.loads(REFERENCE_FILE.read_text())
    assert [(c["image"], c["prompt"]) for c in current] == [(r["image"], r["prompt"]) for r in reference]
    for cur, ref in zip(current, reference):
        got, want = dict(_numbers(cur["assessment"])), dict(_numbers(ref["assessment"]))
        assert got.keys() == want.keys(), (cur["image"], sorted(got.keys() ^ want.keys())[:5])
        diff = {k: (got[k], want[k]) for k in want if abs(got[k] - want[k]) > 1e-6}
        assert not diff, (cur["image"], cur["prompt"], list(diff.items())[:5])


def test_explanations_and_labels_match_the_reference(current):
    reference = json.loads(REFERENCE_FILE.read_text())
    for cur, ref in zip(current, reference):
        a, b = cur["assessment"], ref["assessment"]
        assert a["explanation"] == b["explanation"]
        assert [r["label"] for r in a["regions"]] == [r["label"] for r in b["regions"]]
        assert a["sentiment"]["label"] == b["sentiment"]["label"]
