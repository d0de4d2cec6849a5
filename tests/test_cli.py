"""The command line contract: `assess` and `batch`, their flags and field names."""
import csv
import json
import shutil
import subprocess
import sys

import pytest

from iqa_core.training import datasets
from iqa_core.workflows import batch
from tests.conftest import ROOT


def _run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "iqa_core", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_root):
    d = tmp_path_factory.mktemp("batch")
    samples = datasets.load("agiqa3k", data_root)[:3]
    for s in samples:
        shutil.copy(s.path, d / s.path.name)
    (d / "broken.jpg").write_bytes(b"this is not a jpeg")
    sub = d / "sub"
    sub.mkdir()
    shutil.copy(samples[0].path, sub / "nested.jpg")
    meta = d / "meta.csv"
    with open(meta, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "prompt", "tags"])
        w.writerow([samples[0].path.name, samples[0].prompt, "a,b"])
    return d


def test_assess_json(data_root):
    s = datasets.load("agiqa3k", data_root)[0]
    r = _run("assess", str(s.path), "--prompt", s.prompt, "--tags", "x,y", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["image"] == s.path.name and d["alignment"] is not None
    assert d["metadata"]["tags"] == ["x", "y"]


def test_assess_text_and_bad_file(tmp_path, data_root):
    s = datasets.load("agiqa3k", data_root)[0]
    r = _run("assess", str(s.path))
    assert r.returncode == 0 and "quality" in r.stdout
    bad = tmp_path / "x.png"
    bad.write_bytes(b"")
    r = _run("assess", str(bad))
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_batch_jsonl_and_csv(folder, tmp_path):
    out = tmp_path / "results.jsonl"
    r = _run("batch", str(folder), "--out", str(out), "--metadata", str(folder / "meta.csv"))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {row["image"]: row for row in rows}
    assert len(rows) == 5 and "sub/nested.jpg" in by_name
    assert by_name["broken.jpg"]["error"]
    good = [row for row in rows if not row.get("error")]
    assert len(good) == 4 and all(0 <= row["quality"] <= 100 for row in good)
    first = sorted(p.name for p in folder.glob("ag_*.jpg"))[0]
    assert by_name[first]["alignment"] is not None and by_name[first]["metadata"]["tags"] == ["a", "b"]
    out_csv = tmp_path / "results.csv"
    assert _run("batch", str(folder), "--out", str(out_csv)).returncode == 0
    table = list(csv.DictReader(open(out_csv)))
    assert len(table) == 5 and {"image", "quality", "aesthetics", "error"} <= set(table[0])


def test_batch_engines_write_the_same_rows(folder, tmp_path):
    """Threads in one process (local) and worker processes (processes) write the same rows in the same order."""
    rows = {}
    for engine in ("local", "processes"):
        out = tmp_path / f"{engine}.jsonl"
        r = _run("batch", str(folder), "--out", str(out), "--metadata", str(folder / "meta.csv"), "--engine", engine)
        assert r.returncode == 0, r.stderr
        assert "4 assessed, 1 unreadable" in r.stderr
        rows[engine] = [{k: v for k, v in json.loads(line).items() if k != "timings_ms"}
                        for line in out.read_text().splitlines()]
    assert rows["processes"] == rows["local"] and len(rows["local"]) == 5


def test_batch_parquet_has_the_csv_columns_typed(folder, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "results.parquet"
    r = _run("batch", str(folder), "--out", str(out), "--metadata", str(folder / "meta.csv"))
    assert r.returncode == 0, r.stderr
    table = pq.read_table(out)
    assert table.column_names == batch.csv_columns() and table.num_rows == 5
    assert str(table.schema.field("quality").type) == "double" and str(table.schema.field("width").type) == "int64"
    by_name = {row["image"]: row for row in table.to_pylist()}
    assert by_name["broken.jpg"]["error"] and by_name["broken.jpg"]["quality"] is None
    assert all(0 <= row["quality"] <= 100 for name, row in by_name.items() if name != "broken.jpg")


def test_batch_flags_are_checked_before_any_model_loads(folder, tmp_path):
    r = _run("batch", str(folder), "--out", str(tmp_path / "r.jsonl"), "--address", "auto")
    assert r.returncode == 2 and "--address needs --engine ray" in r.stderr
    r = _run("batch", str(folder), "--out", str(tmp_path / "r.jsonl"), "--workers", "0")
    assert r.returncode == 2 and "--workers must be at least 1" in r.stderr


def test_batch_refuses_links_outside(tmp_path, data_root):
    d = tmp_path / "f"
    d.mkdir()
    (d / "escape.jpg").symlink_to(datasets.load("agiqa3k", data_root)[0].path)
    out = tmp_path / "r.jsonl"
    assert _run("batch", str(d), "--out", str(out)).returncode == 0
    row = json.loads(out.read_text())
    assert "outside" in row["error"]


# ------------------------------------------------------------------------------------------ hostile files
HOSTILE_REFUSED = {"truncated_jpeg", "truncated_png", "text_as_jpg", "empty", "tiny_png", "bomb_png"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from tests.hostile_files import build_corpus

    return build_corpus(tmp_path_factory.mktemp("hostile"))


def test_batch_over_the_hostile_corpus(hostile, tmp_path):
    folder = next(iter(hostile.values())).parent
    out = tmp_path / "x.jsonl"
    r = _run("batch", str(folder), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    listed = [p.relative_to(folder).as_posix() for p in batch.list_images(folder)]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(row["image"] for row in rows) == sorted(listed)  # one row per listed file
    refused = {hostile[n].name for n in HOSTILE_REFUSED}
    for row in rows:
        if row["image"] in refused:
            assert set(row) == {"image", "error"} and row["error"][0].isupper() and row["error"].endswith("."), row
        else:
            assert not row.get("error") and 0 <= row["quality"] <= 100, row
    n_ok = len(rows) - len(refused & set(listed))
    assert f"{n_ok} assessed, {len(rows) - n_ok} unreadable" in r.stderr


@pytest.mark.parametrize(("name", "message"), [
    ("empty", "The file is empty (0 bytes)."),
    ("truncated_jpeg", "The image file is damaged or truncated"),
    ("bomb_png", "The image has 400,000,000 pixels; the limit is 50 megapixels."),
])
def test_assess_refuses_a_hostile_file_in_one_line(hostile, name, message):
    r = _run("assess", str(hostile[name]))
    assert r.returncode == 2 and r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), r.stderr
