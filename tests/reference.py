"""Reference assessments of the bundled examples, to check that a change of layout or runtime leaves every
score as it was: `python -m tests.reference` rewrites tests/data/reference_assessments.json (only when the
scores are meant to change, e.g. after retraining)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_FILE = ROOT / "tests" / "data" / "reference_assessments.json"
VOLATILE = ("timings_ms",)  # wall-clock figures, never the same twice


def cases() -> list[tuple[str, str | None]]:
    """Each bundled example with its prompt and without."""
    with open(ROOT / "examples" / "examples.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [(r["image"], p) for r in rows for p in (r.get("prompt") or None, None)]


def assess_cases(assessor) -> list[dict]:
    out = []
    for image, prompt in cases():
        result = assessor.assess(ROOT / "examples" / image, prompt=prompt).to_dict()
        for key in VOLATILE:
            result.pop(key)
        out.append({"image": image, "prompt": prompt, "assessment": result})
    return out


if __name__ == "__main__":
    from iqa_core.pipeline import Assessor

    REFERENCE_FILE.write_text(json.dumps(assess_cases(Assessor()), indent=1, sort_keys=True))
    print(f"wrote {REFERENCE_FILE}")
