"""Load benchmark: many concurrent gradio_client sessions against the running app on loopback; every request
answered or cleanly refused by the queue, none lost; p50/p95 latency and the app's memory over time.

    python -m benchmarks.load [--clients 32] [--seconds 120] [--port N]

Starts `python app.py` on 127.0.0.1 itself, warms it with one request, then lets each client call /assess in a
loop (example images and prompts in turn) until the deadline and waits for what is in flight. A request not
answered within REQUEST_TIMEOUT_S counts as lost. Samples the app's RSS every SAMPLE_S seconds; "growth" is the
least-squares slope over the second half of the samples. Exits non-zero if a request was lost or errored.
Writes benchmarks/results/load.json.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import html
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

# gradio_client sends telemetry unless this is "False", whatever Client(analytics_enabled=...) says; loopback only
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.utils import QueueError, TooManyRequestsError  # noqa: E402
from scipy import stats  # noqa: E402

from benchmarks.common import ROOT, table, write_json  # noqa: E402

HOST = "127.0.0.1"
STARTUP_S = 180          # imports and model loading; slower while other work shares the CPU
REQUEST_TIMEOUT_S = 120  # a request unanswered this long counts as lost
SAMPLE_S = 2.0           # RSS sampling period
TABLE_EVERY_S = 15.0     # one row of the memory-over-time table per this many seconds
REFUSALS = (QueueError, TooManyRequestsError)  # the queue's clean "full / try later" answers (HTTP 503 / 429)
RETRY_AFTER_S = 2.0      # a refused client waits this long before its next request, as a person would


# ------------------------------------------------------------------------------------------------ the app
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_app(port: int, log_file) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_SERVER_NAME": HOST, "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("PORT", None)  # app.py prefers GRADIO_SERVER_PORT, but leave no doubt
    # output to a file, not a pipe: a pipe nobody reads fills up and blocks the app
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log_file,
                            stderr=subprocess.STDOUT)


def wait_until_up(proc: subprocess.Popen, url: str, log_path: Path) -> float:
    """Seconds until the app answers HTTP; raises if it exits or STARTUP_S passes."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < STARTUP_S:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:  # not listening yet
            pass
        time.sleep(0.5)
    raise RuntimeError(f"app did not answer within {STARTUP_S} s:\n{tail(log_path)}")


def stop_app(proc: subprocess.Popen) -> None:
    """Terminate the app and anything it started (only those processes)."""
    try:
        procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=15)
    for p in alive:
        p.kill()


def tail(path: Path, n: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


def rss_mb(pid: int) -> float:
    """Resident memory of the app with its children (gradio may start helpers)."""
    p = psutil.Process(pid)
    total = p.memory_info().rss
    for c in p.children(recursive=True):
        try:
            total += c.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


class Sampler(threading.Thread):
    """RSS every SAMPLE_S seconds as (seconds since t0, MB) until stopped."""

    def __init__(self, pid: int, t0: float):
        super().__init__(daemon=True)
        self.pid, self.t0, self.samples, self.stop = pid, t0, [], threading.Event()

    def run(self) -> None:
        while True:
            try:
                self.samples.append((time.perf_counter() - self.t0, rss_mb(self.pid)))
            except psutil.NoSuchProcess:
                return
            if self.stop.is_set():  # the sample just taken, after the last request, is the end figure
                return
            self.stop.wait(SAMPLE_S)


# ------------------------------------------------------------------------------------------------ clients
def example_inputs() -> list[tuple[str, str]]:
    with open(ROOT / "examples" / "examples.csv", newline="", encoding="utf-8") as fh:
        return [(str(ROOT / "examples" / r["image"]), r["prompt"]) for r in csv.DictReader(fh)]


def make_client(url: str, downloads: str) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=downloads)


def warm_up(url: str, downloads: str) -> dict:
    """One request before the clock, so lazy loading (the text encoder) is not counted."""
    client = make_client(url, downloads)
    try:
        return request(client, *example_inputs()[0], time.perf_counter())
    finally:
        client.close()


def status_text(out) -> str:
    """assess() reports its own failures as an HTML sentence in the first output, not as an exception."""
    first = out[0] if isinstance(out, (list, tuple)) and out else ""
    return html.unescape(re.sub(r"<[^>]+>", "", first or "")).strip()


def request(client: Client, image: str, prompt: str, t0: float) -> dict:
    """One /assess call: start (s since t0), latency (s), outcome ok / refused / error / lost, detail."""
    start = time.perf_counter()
    outcome, detail = "ok", ""
    try:
        job = client.submit(handle_file(image), prompt, "", "", "", api_name="/assess")
        try:
            message = status_text(job.result(timeout=REQUEST_TIMEOUT_S))
            if message:
                outcome, detail = "error", message
        except concurrent.futures.TimeoutError:
            job.cancel()
            outcome, detail = "lost", f"no answer within {REQUEST_TIMEOUT_S} s"
    except REFUSALS as exc:
        outcome, detail = "refused", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - anything else is an error to report, the run goes on
        outcome, detail = "error", f"{type(exc).__name__}: {exc}"
    return {"start_s": start - t0, "latency_s": time.perf_counter() - start, "outcome": outcome,
            "image": Path(image).name, "detail": detail}


def client_loop(client: Client, offset: int, examples: list, t0: float, deadline: float, records: list,
                counts: dict, lock: threading.Lock) -> None:
    i = offset  # clients start at different examples so the mix is even at every moment
    while time.perf_counter() < deadline:
        image, prompt = examples[i % len(examples)]
        with lock:
            counts["submitted"] += 1
        rec = request(client, image, prompt, t0)
        with lock:
            records.append(rec)
        i += 1
        if rec["outcome"] == "refused":  # retrying at once would only measure how fast refusals go round
            time.sleep(RETRY_AFTER_S)


def drive(url: str, n_clients: int, seconds: float, downloads: str, pid: int) -> tuple[dict, list, list, float]:
    """Run the clients; returns counts, per-request records, RSS samples and the wall time."""
    examples = example_inputs()
    clients = [make_client(url, downloads) for _ in range(n_clients)]  # connecting is not part of the clock
    records, counts, lock = [], {"submitted": 0}, threading.Lock()
    try:
        t0 = time.perf_counter()
        sampler = Sampler(pid, t0)
        sampler.start()
        threads = [threading.Thread(target=client_loop, daemon=True,
                                    args=(c, k, examples, t0, t0 + seconds, records, counts, lock))
                   for k, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:  # bounded: each client's last request ends within REQUEST_TIMEOUT_S of the deadline
            t.join(seconds + REQUEST_TIMEOUT_S + 60)
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
    finally:
        for c in clients:
            c.close()
    with lock:  # a thread still stuck past its bound leaves its request unreturned: lost
        return dict(counts), list(records), sampler.samples, wall


# ------------------------------------------------------------------------------------------------ report
def memory_summary(samples: list[tuple[float, float]]) -> dict:
    t = np.array([s[0] for s in samples])
    mb = np.array([s[1] for s in samples])
    half = t >= t[-1] / 2
    growth = stats.linregress(t[half], mb[half]).slope * 60 if half.sum() >= 3 else float("nan")
    return {"start_mb": float(mb[0]), "middle_mb": float(mb[np.argmin(abs(t - t[-1] / 2))]),
            "end_mb": float(mb[-1]), "max_mb": float(mb.max()), "growth_mb_per_min": float(growth)}


def memory_rows(samples: list, records: list) -> list[list]:
    """About one row per TABLE_EVERY_S, with how many requests had come back by then."""
    ends = np.sort([r["start_s"] + r["latency_s"] for r in records])
    rows, next_t = [], 0.0
    for k, (t, mb) in enumerate(samples):
        if t >= next_t or k == len(samples) - 1:
            rows.append([f"{t:.0f}", mb, int(np.searchsorted(ends, t, side="right"))])
            next_t = t + TABLE_EVERY_S - SAMPLE_S / 2
    return rows


def summarize(args, counts: dict, records: list, samples: list, wall: float) -> dict:
    by = {o: [r for r in records if r["outcome"] == o] for o in ("ok", "refused", "error", "lost")}
    lat = [r["latency_s"] for r in by["ok"]]
    returned = len(by["ok"]) + len(by["refused"]) + len(by["error"])
    return {"clients": args.clients, "seconds": args.seconds, "wall_s": wall, "submitted": counts["submitted"],
            "returned": returned, **{o: len(v) for o, v in by.items() if o != "lost"},
            "lost": counts["submitted"] - returned,  # timed out, or never came back at all
            "throughput_per_s": len(by["ok"]) / wall,
            "latency_ok_s": {"p50": float(np.percentile(lat, 50)) if lat else None,
                             "p95": float(np.percentile(lat, 95)) if lat else None},
            "memory": memory_summary(samples)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--port", type=int, default=None, help="default: a free one")
    args = ap.parse_args(argv)
    port = args.port or free_port()
    url = f"http://{HOST}:{port}/"
    with tempfile.TemporaryDirectory(prefix="iqa-load-") as tmp:
        log_path = Path(tmp) / "app.log"
        with open(log_path, "wb") as log_file:
            proc = start_app(port, log_file)
        try:
            startup = wait_until_up(proc, url, log_path)
            warm = warm_up(url, tmp)
            if warm["outcome"] != "ok":
                print(f"warm-up request failed: {warm['detail']}\n{tail(log_path)}")
                return 1
            counts, records, samples, wall = drive(url, args.clients, args.seconds, tmp, proc.pid)
        finally:
            stop_app(proc)
    s = summarize(args, counts, records, samples, wall)
    m, lat = s["memory"], s["latency_ok_s"]
    print(f"app up in {startup:.1f} s; warm-up request {warm['latency_s']:.1f} s")
    print(table([[s["clients"], wall, s["submitted"], s["ok"], s["refused"], s["error"], s["lost"],
                  s["throughput_per_s"], lat["p50"] or float("nan"), lat["p95"] or float("nan"),
                  m["start_mb"], m["end_mb"], m["max_mb"], m["growth_mb_per_min"]]],
                ["clients", "duration (s)", "submitted", "ok", "refused", "error", "lost", "req/s", "p50 (s)",
                 "p95 (s)", "RSS start", "RSS end", "RSS max", "growth (MB/min)"],
                f"/assess under load, {HOST}:{port} (RSS in MB, of the app process and its children)"))
    print(table(memory_rows(samples, records), ["t (s)", "RSS (MB)", "returned"], "Memory over time"))
    problems = [r for r in records if r["outcome"] in ("error", "lost")]
    for r in problems[:10]:
        print(f"  {r['outcome']} at {r['start_s']:.1f} s ({r['image']}): {r['detail']}")
    path = write_json("load.json", {**s, "startup_s": startup, "warmup_s": warm["latency_s"],
                                    "rss_samples": [{"t_s": t, "mb": mb} for t, mb in samples],
                                    "requests": records})
    print(f"wrote {path}")
    return 1 if s["lost"] or s["error"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
