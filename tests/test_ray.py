"""The Ray Data engine on a local Ray with 2 workers: the local engine's rows exactly, a killed worker
costs nothing, and no Ray process outlives the job."""
import csv
import shutil
import subprocess
import sys

import psutil
import pytest

ray = pytest.importorskip("ray")  # requirements-dev.txt installs ray[data]; under CI a skip fails

from iqa_core.training import datasets  # noqa: E402
from iqa_core.workflows import batch, ray_engine  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

WORKER_TITLE = "MapBatches(AssessBatch)"  # in the process title Ray gives each actor of the pool


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_root):
    """17 dev images (4 with prompts in meta.csv, one in a sub-folder) and 3 bad files."""
    d = tmp_path_factory.mktemp("ray")
    photos = datasets.load("livec", data_root)[:12]
    generated = datasets.load("agiqa3k", data_root)[:5]
    for s in photos + generated[:4]:
        shutil.copy(s.path, d / s.path.name)
    (d / "sub").mkdir()
    shutil.copy(generated[4].path, d / "sub" / generated[4].path.name)
    (d / "empty.jpg").write_bytes(b"")
    (d / "not_an_image.png").write_text("plain text, not a PNG")
    data = photos[0].path.read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    with open(d / "meta.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "prompt", "tags"])
        for s in generated[:4]:
            w.writerow([s.path.name, s.prompt, "generated,test"])
    return d


@pytest.fixture(scope="module")
def reference(folder, assessor):
    """The local engine's rows, in file order."""
    meta = batch.read_metadata_csv(folder / "meta.csv")
    return list(batch.run(assessor, folder, meta, workers=2))


def _same(rows, reference):
    """Everything but the stage timings, which are wall-clock."""
    strip = lambda r: {k: v for k, v in r.items() if k != "timings_ms"}  # noqa: E731
    return [strip(r) for r in rows] == [strip(r) for r in reference]


def _pool(me: psutil.Process) -> list[psutil.Process]:
    out = []
    for p in me.children(recursive=True):
        try:
            if WORKER_TITLE in " ".join(p.cmdline()):
                out.append(p)
        except psutil.Error:
            pass
    return out


def _alive(procs) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def test_reference_has_every_kind_of_row(reference):
    assert len(reference) == 20
    bad = {r["image"]: r["error"] for r in reference if r.get("error")}
    assert set(bad) == {"empty.jpg", "not_an_image.png", "truncated.jpg"}
    assert sum(r.get("alignment") is not None for r in reference) == 4


def test_a_killed_worker_is_replaced_and_nothing_is_lost_or_repeated(folder, reference):
    """SIGKILL one actor after the first rows arrive: the job still yields every file exactly once, with
    the local engine's values; afterwards every process Ray started is gone."""
    me = psutil.Process()
    meta = batch.read_metadata_csv(folder / "meta.csv")
    # Children from before the job (e.g. multiprocessing's resource tracker, which lives as long as this
    # process once another test has used worker processes) are not Ray's to clean up.
    before = {p.pid for p in me.children(recursive=True)}
    rows, started, victim, workers = [], {}, None, set()
    with ray_engine.session(num_cpus=2):
        for row in ray_engine.run(folder, meta, workers=2, batch_size=2):
            rows.append(row)
            started.update({p.pid: p for p in me.children(recursive=True) if p.pid not in before})
            workers |= {p.pid for p in _pool(me)}
            if victim is None:
                pool = _pool(me)
                assert len(pool) == 2, [p.cmdline() for p in pool]
                victim = pool[0]
                victim.kill()
                victim.wait(10)
    assert not ray.is_initialized()
    assert victim is not None and len(rows) == len(reference)
    assert sorted(r["image"] for r in rows) == sorted({r["image"] for r in rows})  # none twice
    assert _same(rows, reference)
    assert len(workers) >= 3, "the killed worker was replaced"
    leaked = psutil.wait_procs(_alive(started.values()), timeout=20)[1]
    assert not _alive(leaked), [(p.pid, p.name()) for p in _alive(leaked)]


def test_cli_on_ray_writes_the_local_engines_rows_to_parquet(folder, reference, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "ray.parquet"
    r = subprocess.run([sys.executable, "-m", "iqa_core", "batch", str(folder), "--out", str(out), "--engine", "ray",
                        "--workers", "2", "--metadata", str(folder / "meta.csv")], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "17 assessed, 3 unreadable" in r.stderr
    expected = tmp_path / "local.parquet"
    with batch.ResultWriter(expected) as w:
        for row in reference:
            w.write(row)
    got, want = pq.read_table(out), pq.read_table(expected)
    assert got.num_rows == 20 and got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()
