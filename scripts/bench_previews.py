"""What an encode and a slider edit cost in the worker, and what live previews add: the real
`worker.service` verbs under `run_job` on a private redis-server, the served model in process
(no Celery, no HTTP), the astronaut aligned as an upload is.

For each sampler (solver, grid, inversion / render steps) and each preview setting (PREVIEW_EVERY
0 = none, 2, 1), interleaved over rounds: the encode's seconds (inversion + reconstruction +
storing), the edit's seconds (run_job start → return: latent read, decode, PNGs, records), and the
time from the job's "running" state to its first preview, both as a subscriber of the job's
channel receives them; the previews' sizes. Median (min–max) per cell, with the load average.

    .venv/bin/python -m scripts.bench_previews [--rounds 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis
import skimage.data
import torch
from PIL import Image

from backend.faces import align_face
from models import DiffAEPipeline
from worker import service
from worker.contracts import EncodeJob, JobState, ManipulateJob
from worker.ids import new_id
from worker.runtime import Runtime
from worker.settings import WorkerSettings
from worker.storage import Keys, UploadMeta

#: Today's DDIM default and the solver's (docs/benchmarks.md, "Fewer steps"), and the solver at 10 steps.
SAMPLERS = {"ddim": ("ddim", "uniform", 50, 20), "dpm": ("dpm++2m", "quadratic", 10, 5),
            "dpm10": ("dpm++2m", "quadratic", 10, 10)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Listener:
    """Arrival times of the messages of one job's channel."""

    def __init__(self, client: redis.Redis, job_id: str) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self._pubsub = client.pubsub()
        self._pubsub.subscribe(Keys.events(job_id))
        self._pubsub.get_message(timeout=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            m = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.01)
            if m is not None:
                self.arrivals.append((time.perf_counter(), json.loads(m["data"])))

    def close(self) -> list[tuple[float, dict[str, Any]]]:
        time.sleep(0.05)
        self._stop.set()
        self._thread.join()
        self._pubsub.close()
        return self.arrivals


def new_job(rt: Runtime, kind: str) -> str:
    job_id = new_id()
    state = JobState(job_id=job_id, kind=kind, status="queued", progress=0.0)  # type: ignore[arg-type]
    assert rt.storage.claim(state, require_worker=False) is not None
    return job_id


def upload(rt: Runtime, size: int) -> str:
    lid = new_id()
    face = align_face(Image.fromarray(skimage.data.astronaut()), size)
    png = io.BytesIO()
    face.image.save(png, format="PNG")
    meta = UploadMeta(latent_id=lid, quad=face.quad.tolist(), faces=[face.box], face=0,
                      preset=rt.pipeline().config.preset, image_size=size, photo_size=(512, 512),
                      image_key=new_id())
    rt.storage.create_upload(meta, b"photo", png.getvalue())
    return lid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/weights/faces64")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--samplers", default="ddim,dpm,dpm10", help=f"of {', '.join(SAMPLERS)}")
    parser.add_argument("--engine", default="eager", choices=["eager", "auto", "onnxruntime", "openvino"],
                        help="the worker's ENGINE, chosen before timing as a worker chooses it at start")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    workdir = Path(tempfile.mkdtemp(prefix="bench-previews-"))
    port = free_port()
    command = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", "",
               "--appendonly", "no", "--dir", str(workdir)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        pipe = DiffAEPipeline.from_pretrained(args.model, device="cpu")
        chooser = Runtime(WorkerSettings(redis_url=url, engine=args.engine,
                                         model_cache_dir=workdir / "engines"))
        chooser._pipeline = pipe
        chooser.warm()
        runtimes = {}
        for every in (0, 2, 1):
            rt = Runtime(WorkerSettings(redis_url=url, preview_every=every))
            rt._pipeline = pipe
            runtimes[every] = rt
        print(f"model {args.model} ({pipe.dtype}, engine {chooser.engine}), {args.threads} threads, "
              f"load average {os.getloadavg()[0]:.2f}")
        results: dict[tuple[str, int], dict[str, list[float]]] = {}
        loads = [os.getloadavg()[0]]
        amount = 0.0
        for rnd in range(args.rounds + 1):  # round 0 warms up
            for name in args.samplers.split(","):
                solver, grid, enc, render = SAMPLERS[name]
                for every, rt in runtimes.items():
                    fields = ("encode", "edit", "first", "bytes")
                    cell = results.setdefault((name, every), {k: [] for k in fields})
                    lid = upload(rt, pipe.image_size)
                    job_id = new_job(rt, "encode")
                    t0 = time.perf_counter()
                    encode = EncodeJob(job_id=job_id, image_key=new_id(), latent_id=lid, steps=enc,
                                       render_steps=render, solver=solver, grid=grid)  # type: ignore[arg-type]
                    service.run_job(rt, encode, service.encode)
                    t_encode = time.perf_counter() - t0
                    amount += 0.01
                    job_id = new_job(rt, "manipulate")
                    listener = Listener(client, job_id)
                    edits = {"Smiling": 0.3 + amount % 0.1}
                    job = ManipulateJob(job_id=job_id, image_key=new_id(), latent_id=lid, edits=edits,
                                        steps=render, solver=solver, grid=grid)  # type: ignore[arg-type]
                    t0 = time.perf_counter()
                    assert service.run_job(rt, job, service.manipulate) is not None
                    t_edit = time.perf_counter() - t0
                    arrivals = listener.close()
                    running = next(t for t, m in arrivals if m.get("status") == "running")
                    previews = [(t, m) for t, m in arrivals if m.get("type") == "preview"]
                    if rnd == 0:
                        continue
                    cell["encode"].append(t_encode)
                    cell["edit"].append(t_edit)
                    if previews:
                        cell["first"].append(previews[0][0] - running)
                        cell["bytes"] += [len(m["image"]) for _, m in previews]
            if rnd:
                loads.append(os.getloadavg()[0])

        def fmt(values: list[float], scale: float = 1.0, unit: str = "s", digits: int = 3) -> str:
            if not values:
                return "–"
            v = [x * scale for x in values]
            return f"{statistics.median(v):.{digits}f} {unit} ({min(v):.{digits}f}–{max(v):.{digits}f})"

        print("\n| sampler (inversion / render) | previews every | encode | slider edit | "
              "first preview after 'running' | preview size |\n|---|---:|---:|---:|---:|---:|")
        for (name, every), cell in results.items():
            solver, grid, enc, render = SAMPLERS[name]
            size = f"{statistics.median(cell['bytes']) / 1024:.1f} KB" if cell["bytes"] else "–"
            print(f"| {solver} {grid} {enc} / {render} | {every or 'off'} | {fmt(cell['encode'])} | "
                  f"{fmt(cell['edit'])} | {fmt(cell['first'], 1000, 'ms', 0)} | {size} |")
        print(f"\n{args.rounds} interleaved rounds after a warm-up; 1-min load average "
              f"{min(loads):.2f}-{max(loads):.2f} (per round: {', '.join(f'{v:.2f}' for v in loads)})")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
