"""The batch engines. Threads with decode-ahead: rows equal one-by-one assessments, in file order, whatever
order the threads finish in; a bad file gives its error row in its place and the batch goes on. Worker
processes: the threads' rows in file order; a file that kills its worker gets an error row of its own, and
every other file, including those in flight with it, still gets its row."""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import threading
import time

import pytest

from iqa_core.training import datasets
from iqa_core.workflows import batch, process_engine


def _comparable(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "timings_ms"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_root):
    """Six dev images of both sets (different sizes) with a broken file sorted between them."""
    d = tmp_path_factory.mktemp("decode-ahead")
    for s in datasets.load("livec", data_root)[:3] + datasets.load("agiqa3k", data_root)[:3]:
        shutil.copy(s.path, d / s.path.name)
    names = sorted(p.name for p in d.iterdir())
    (d / (names[2] + "-broken.jpg")).write_bytes(b"\xff\xd8\xff not a jpeg")
    return d


class SlowFirst:
    """The assessor, with the first file's assessment held back until a later file's is done: the rows
    finish out of order and the batch must still yield them in file order."""

    def __init__(self, assessor, first: str):
        self.assessor, self.first, self.later_done = assessor, first, threading.Event()
        self.decoded_by: set[str] = set()

    def preprocess(self, path, **kw):
        self.decoded_by.add(threading.current_thread().name.split("_")[0])
        return self.assessor.preprocess(path, **kw)

    def forward(self, batch_):
        return self.assessor.forward(batch_)

    def postprocess(self, prep, out):
        if prep.loaded.name == self.first:
            self.later_done.wait(timeout=60)
        result = self.assessor.postprocess(prep, out)
        if prep.loaded.name != self.first:
            self.later_done.set()
        return result


def test_decode_ahead_rows_equal_single_assessments_in_file_order(assessor, folder):
    files = batch.list_images(folder)
    want = [_comparable(batch.assess_file(assessor, f, folder, {})) for f in files]
    ok = next(i for i, r in enumerate(want) if not r.get("error"))
    assert want[ok] == _comparable(assessor.assess(files[ok], name=files[ok].name).to_dict())
    slow = SlowFirst(assessor, files[0].name)
    t0 = time.perf_counter()
    got = [_comparable(r) for r in batch.run(slow, folder, workers=2)]
    assert slow.later_done.is_set() and time.perf_counter() - t0 < 60  # a later file did finish first
    assert slow.decoded_by == {"iqa-decode"}  # decoded ahead, on the decoder's thread
    assert [r["image"] for r in got] == [f.name for f in files]
    assert got == want
    broken = [r for r in got if r.get("error")]
    assert len(broken) == 1 and broken[0]["image"].endswith("-broken.jpg") and set(broken[0]) == {"image", "error"}
    assert sum(1 for r in got if not r.get("error")) == 6


def test_worker_processes_give_the_local_rows_in_file_order(assessor, folder):
    files = batch.list_images(folder)
    meta = {files[0].name: {"prompt": "a photo of a street"}}
    want = [_comparable(r) for r in batch.run(assessor, folder, meta, files)]
    got = [_comparable(r) for r in process_engine.run(folder, meta, files, workers=2)]
    assert [r["image"] for r in got] == [f.name for f in files]
    assert got == want
    assert sum(1 for r in got if r.get("error")) == 1 and got[0]["alignment"] is not None


def _fake_start(threads: int) -> None:
    pass


def _fake_assess(path: str, folder: str, metadata) -> dict:
    """A worker that dies on one file (as a decoder crash or an OOM kill would) and rows for the rest."""
    name = os.path.basename(path)
    if name.startswith("kill"):
        os._exit(3)
    return {"image": name, "quality": float(len(name))}


def test_a_file_that_kills_its_worker_gets_an_error_row_and_the_rest_their_rows(tmp_path, monkeypatch):
    names = ["a.png", "b.png", "c.png", "kill-d.png", "e.png", "f.png", "g.png", "kill-h.png", "i.png"]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    monkeypatch.setattr(process_engine, "_start", _fake_start)
    monkeypatch.setattr(process_engine, "_assess", _fake_assess)
    # fork: the workers inherit the patched functions (the default, spawn, would import the real ones)
    rows = list(process_engine.run(tmp_path, {}, [tmp_path / n for n in names], workers=2,
                                   context=mp.get_context("fork")))
    assert [r["image"] for r in rows] == names
    for n, r in zip(names, rows):
        if n.startswith("kill"):
            assert "stopped" in r["error"] and "quality" not in r
        else:
            assert r == {"image": n, "quality": float(len(n))}
