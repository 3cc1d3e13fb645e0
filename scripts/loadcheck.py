"""Load-and-fault check of a running studio (`make up`): 127.0.0.1 only, bounded in count and time.

    python -m scripts.loadcheck [--url http://127.0.0.1:8000] [--requests 2000] [--clients 20]
        [--junk-keys 200000] [--faults] [--time-limit 600] [--json out.json]

Phases, each printing its figures:
  load    --requests requests from --clients threads at once: /healthz, /attributes, job reads,
          image fetches, new slider edits (random amounts), a few encodes, and bad input (malformed
          bodies, huge counts, unknown ids, foreign origins). Every answer must be below 500, and
          every job must end (lost: a job still not final a minute after the load ends).
  junk    (--junk-keys N) N unrelated keys put in the studio's Redis, then taken out again:
          /healthz and POST /manipulate latency without and with them (no request may scan).
  faults  (--faults) every worker SIGKILLed mid-job (the job must still finish: `make up` starts
          the workers again and a heartbeat queues the job again); Redis frozen (SIGSTOP) for 3 s
          (answers 503 within about a second); the private Redis of `make up` killed (503, then
          the app back by itself).
Then: requests, 5xx count, p50/p95 latency per kind of request, jobs submitted / succeeded /
failed / lost, RSS of the API and the workers before and after, and the load average.

It reads the processes from /proc (the API by its port, the workers and Redis by the API's
REDIS_URL), so run it as the user that runs `make up`, on the same machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import statistics
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import redis
import skimage.data
from PIL import Image

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# ----------------------------------------------------------------------------- processes
def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    return dict(item.split("=", 1) for item in raw if "=" in item)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Stack:
    """The processes of one running studio, found from the API's port."""

    api: int
    redis_url: str

    @classmethod
    def find(cls, port: int) -> Stack:
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            args = _cmdline(pid)
            port_arg = args[args.index("--port") + 1] if "--port" in args[:-1] else None
            if "backend.app:create_app" in args and port_arg == str(port):
                env = _environ(pid)
                return cls(pid, env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        raise SystemExit(f"no studio API (uvicorn backend.app:create_app --port {port}) runs on this machine")

    def workers(self) -> list[int]:
        found = []
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            if "worker.celery_app" in _cmdline(pid):
                try:
                    if _environ(pid).get("REDIS_URL") == self.redis_url:
                        found.append(pid)
                except OSError:
                    continue
        return found

    def redis_pid(self) -> int | None:
        port = str(urlparse(self.redis_url).port or 6379)
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            args = " ".join(_cmdline(pid))
            if args.startswith("redis-server") and args.split()[1].endswith(f":{port}"):
                return pid
        return None

    def rss(self) -> dict[str, float]:
        return {"api": rss_mb(self.api), "workers": sum(rss_mb(p) for p in self.workers())}


# ----------------------------------------------------------------------------- requests
@dataclass
class Tally:
    """Every answer: its kind, status and seconds."""

    answers: list[tuple[str, int, float]] = field(default_factory=list)
    jobs: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(
        self, client: httpx.Client, kind: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        start = time.perf_counter()
        try:
            answer = client.request(method, url, **kwargs)
            status = answer.status_code
        except httpx.HTTPError:
            answer, status = httpx.Response(599), 599  # no answer at all counts as a 5xx
        with self.lock:
            self.answers.append((kind, status, time.perf_counter() - start))
        if status == 202:
            with self.lock:
                self.jobs.add(answer.json()["job_id"])
        return answer

    def report(self, title: str) -> dict[str, Any]:
        by_kind: dict[str, list[float]] = defaultdict(list)
        for kind, _, seconds in self.answers:
            by_kind[kind].append(seconds)
        five = sum(1 for _, status, _ in self.answers if status >= 500)
        print(f"\n{title}: {len(self.answers)} requests, {five} answered 5xx (or not at all)")
        print(f"  {'kind':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
        rows = {}
        for kind, times in sorted(by_kind.items()):
            times.sort()
            p50, p95 = statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]
            top = times[-1]
            rows[kind] = {"n": len(times), "p50_ms": 1000 * p50, "p95_ms": 1000 * p95, "max_ms": 1000 * top}
            print(f"  {kind:<22}{len(times):>6}{1000 * p50:>10.1f}{1000 * p95:>10.1f}{1000 * top:>10.1f}")
        counts: dict[int, int] = defaultdict(int)
        for _, status, _ in self.answers:
            counts[status] += 1
        print("  statuses: " + ", ".join(f"{s}×{n}" for s, n in sorted(counts.items())))
        return {"requests": len(self.answers), "5xx": five, "kinds": rows}


def photo(angle: float) -> bytes:
    image = Image.fromarray(skimage.data.astronaut()).rotate(angle)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def wait_job(client: httpx.Client, job_id: str, timeout_s: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = client.get(f"/jobs/{job_id}")
        if answer.status_code == 200 and answer.json()["status"] in ("succeeded", "failed"):
            return dict(answer.json())
        time.sleep(0.2)
    return None


def encoded(client: httpx.Client, angle: float) -> dict[str, Any]:
    answer = client.post("/encode", files={"image": ("a.jpg", photo(angle), "image/jpeg")})
    answer.raise_for_status()
    job = wait_job(client, answer.json()["job_id"], 120)
    if job is None or job["status"] != "succeeded":
        raise SystemExit(f"the studio could not encode a photo: {job}")
    return dict(job["result"])


# Bad input: what a careless client or an attacker sends. Each must get its 4xx.
BAD: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/interpolate", {"json": {"latent_ids": ["a", "b"], "frames": 30_000_000}}),
    ("POST", "/interpolate", {"json": {"latent_ids": ["a", "b"], "frames": 10**16}}),
    ("POST", "/manipulate", {"json": {"latent_id": "0" * 32, "edits": {"x" * 5000: 0.1}}}),
    ("POST", "/manipulate", {"json": {"latent_id": "0" * 32, "edits": {f"a{i}": 0.1 for i in range(1000)}}}),
    ("POST", "/manipulate", {"content": b'{"latent_id": ', "headers": {"content-type": "application/json"}}),
    ("POST", "/manipulate", {"json": {"latent_id": True, "edits": "lots"}}),
    ("POST", "/sample", {"json": {"n": 10**9}}),
    ("POST", "/encode", {"files": {"image": ("a.gif", b"GIF89a" + b"\0" * 100, "image/gif")}}),
    ("POST", "/encode", {"content": b"x" * 100, "headers": {"content-type": "multipart/form-data"}}),
    ("POST", "/encode", {"files": {"image": ("a.jpg", b"\xff\xd8" + b"\0" * 100, "image/jpeg")},
                         "headers": {"origin": "https://elsewhere.example"}}),
    ("GET", "/jobs/" + "f" * 32, {}),
    ("GET", "/images/" + "e" * 32, {}),
    ("DELETE", "/latents/" + "d" * 32, {}),
    ("GET", "/interpolate", {}),
]


def load(url: str, requests: int, clients: int, tally: Tally, deadline: float) -> None:
    """`requests` requests from `clients` threads; the mix of a busy page and bad clients."""
    with httpx.Client(base_url=url, timeout=30) as client:
        faces = [encoded(client, angle) for angle in (0, 8)]
        attributes = [a["name"] for a in client.get("/attributes").json()["attributes"]][:4]
        rng = random.Random(0)

        def one(i: int) -> None:
            if time.monotonic() > deadline:
                return
            face = faces[i % len(faces)]
            pick = rng.random()
            if pick < 0.25:
                tally.request(client, "GET /healthz", "GET", "/healthz")
            elif pick < 0.35:
                tally.request(client, "GET /attributes", "GET", "/attributes")
            elif pick < 0.55:
                edits = {rng.choice(attributes): round(rng.uniform(-0.5, 0.5), 2)}
                tally.request(client, "POST /manipulate", "POST", "/manipulate",
                              json={"latent_id": face["latent_id"], "edits": edits})
            elif pick < 0.57:
                tally.request(client, "POST /encode", "POST", "/encode",
                              files={"image": ("a.jpg", photo(rng.uniform(-10, 10)), "image/jpeg")})
            elif pick < 0.70:
                with tally.lock:
                    job = rng.choice(sorted(tally.jobs)) if tally.jobs else None
                if job:
                    tally.request(client, "GET /jobs/{id}", "GET", f"/jobs/{job}")
                else:  # none submitted yet
                    tally.request(client, "GET /healthz", "GET", "/healthz")
            elif pick < 0.85:
                tally.request(client, "GET /images/{id}", "GET", face["aligned_url"])
            else:
                method, path, kwargs = BAD[i % len(BAD)]
                tally.request(client, "bad input", method, path, **kwargs)

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(requests)))


def jobs_outcome(url: str, jobs: set[str], timeout_s: float) -> dict[str, int]:
    counts = {"submitted": len(jobs), "succeeded": 0, "failed": 0, "lost": 0}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=url, timeout=30) as client:
        for job_id in sorted(jobs):
            job = wait_job(client, job_id, max(1.0, deadline - time.monotonic()))
            counts["lost" if job is None else job["status"]] += 1
    print(f"\njobs: {counts}")
    return counts


def junk(url: str, stack: Stack, keys: int) -> dict[str, Any]:
    """Latency of /healthz and a new edit without, then with `keys` unrelated keys in Redis."""
    r = redis.Redis.from_url(stack.redis_url)
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        lid = encoded(client, 4)["latent_id"]

        def timed(label: str) -> None:
            def edit() -> httpx.Response:
                amount = round(random.uniform(-1, 1), 3)  # a new edit each time, never a cached one
                return client.post("/manipulate", json={"latent_id": lid, "edits": {"Smiling": amount}})

            for kind, call in (("GET /healthz", lambda: client.get("/healthz")), ("POST /manipulate", edit)):
                times = []
                for _ in range(30):
                    start = time.perf_counter()
                    call().raise_for_status()
                    times.append(time.perf_counter() - start)
                figures[f"{kind}, {label}"] = 1000 * statistics.median(times)

        timed("no junk")
        for start in range(0, keys, 10_000):
            with r.pipeline(transaction=False) as p:
                for i in range(start, min(keys, start + 10_000)):
                    p.set(f"loadcheck:junk:{i}", b"x")
                p.execute()
        try:
            timed(f"{keys:,} junk keys")
        finally:
            for start in range(0, keys, 10_000):
                r.delete(*(f"loadcheck:junk:{i}" for i in range(start, min(keys, start + 10_000))))
    print("\nlatency (median of 30, ms) without and with unrelated keys in Redis:")
    for name, ms in figures.items():
        print(f"  {name:<45}{ms:8.1f}")
    return figures


def faults(url: str, stack: Stack) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        # 1. every worker killed mid-job: the job must still finish
        lid = encoded(client, 2)["latent_id"]
        job_id = client.post("/manipulate", json={"latent_id": lid, "edits": {"Smiling": 0.31},
                                                  "solver": "ddim", "steps": 100}).json()["job_id"]
        while client.get(f"/jobs/{job_id}").json()["progress"] < 0.05:
            time.sleep(0.02)
        for worker in stack.workers():
            os.kill(worker, signal.SIGKILL)
        killed = time.monotonic()
        job = wait_job(client, job_id, 180)
        found["worker killed: job"] = None if job is None else job["status"]
        found["worker killed: seconds to finish"] = round(time.monotonic() - killed, 1)
        print(f"\nworkers killed mid-job: the job {found['worker killed: job']} "
              f"{found['worker killed: seconds to finish']} s later")

        # 2. Redis frozen for 3 s: answers come within about a second (503), nothing hangs
        found_pid = stack.redis_pid()
        if found_pid is None:
            print("Redis is not on this machine: no freeze, no kill")
            return found
        pid = found_pid
        os.kill(pid, signal.SIGSTOP)
        try:
            answers = []
            body: dict[str, Any] = {"latent_id": lid, "edits": {}}
            for method, path, json_body in (("GET", "/healthz", None), ("GET", f"/jobs/{job_id}", None),
                                            ("POST", "/manipulate", body)):
                start = time.perf_counter()
                status = client.request(method, path, json=json_body).status_code
                seconds = round(time.perf_counter() - start, 2)
                answers.append((f"{method} /{path.split('/')[1]}", status, seconds))
        finally:
            os.kill(pid, signal.SIGCONT)
        found["redis frozen: answers (kind, status, s)"] = answers
        print(f"Redis frozen: {answers}")

        # 3. the private Redis of `make up` killed: 503 meanwhile, then back by itself
        parent = int(Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1])
        if "scripts.up" not in _cmdline(parent):
            print("Redis is not make up's own: not killed")
            return found
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        meanwhile = client.get("/healthz").status_code
        while client.get("/healthz").status_code != 200 and time.monotonic() - killed < 120:
            time.sleep(0.2)
        found["redis killed: meanwhile"] = meanwhile
        found["redis killed: seconds to healthy"] = round(time.monotonic() - killed, 1)
        lost = client.get(f"/jobs/{job_id}").json()["error"]["code"]
        found["redis killed: an old job reads"] = lost
        print(f"Redis killed: /healthz {meanwhile} meanwhile, healthy again after "
              f"{found['redis killed: seconds to healthy']} s; an old job reads {lost}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--junk-keys", type=int, default=0)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds for the load phase at most")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    parsed = urlparse(args.url)
    if parsed.hostname not in LOOPBACK:
        raise SystemExit(f"--url must be on this machine (127.0.0.1), not {parsed.hostname}")
    bounded = 1 <= args.requests <= 100_000 and 1 <= args.clients <= 200 and 0 <= args.junk_keys <= 1_000_000
    if not bounded:
        raise SystemExit("--requests 1..100000, --clients 1..200, --junk-keys 0..1000000")
    stack = Stack.find(parsed.port or 80)
    report: dict[str, Any] = {"load_average_before": os.getloadavg(), "rss_mb_before": stack.rss()}
    print(f"studio at {args.url}: API pid {stack.api}, workers {stack.workers()}, Redis {stack.redis_url}; "
          f"load average {os.getloadavg()[0]:.1f}")
    tally = Tally()
    load(args.url, args.requests, args.clients, tally, time.monotonic() + args.time_limit)
    report["load"] = tally.report(f"load ({args.clients} clients at once)")
    report["jobs"] = jobs_outcome(args.url, tally.jobs, 60)
    if args.junk_keys:
        report["junk"] = junk(args.url, stack, args.junk_keys)
    if args.faults:
        report["faults"] = faults(args.url, stack)
    time.sleep(1)
    stack = Stack.find(parsed.port or 80)  # make up may have started parts again
    report["rss_mb_after"] = stack.rss()
    report["load_average_after"] = os.getloadavg()
    print(f"\nRSS MB before {report['rss_mb_before']}, after {report['rss_mb_after']}; "
          f"load average after {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    bad = report["load"]["5xx"] or report["jobs"]["lost"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

