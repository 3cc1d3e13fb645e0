"""End-to-end latency of a running studio (`make up`) for a photo of a given size, over HTTP.

    python -m scripts.latency_service [--url http://127.0.0.1:8000] [--size 4000x3000]
        [--encodes 2] [--edits 2]

The photo is `skimage.data.astronaut()` scaled to the shorter side of --size on a grey canvas,
with mild sensor noise, sent as a JPEG (quality 90) like a phone photo. For each encode and each
Smiling edit it prints when the job succeeded (polling /jobs every 50 ms) and when the whole
pasted-back photo (`photo_url`) was fetched, counted from the POST; then it deletes the upload.
"""

from __future__ import annotations

import argparse
import io
import time
from typing import Any

import httpx
import numpy as np
import skimage.data
from PIL import Image


def phone_photo(width: int, height: int) -> bytes:
    """The astronaut scaled to the photo's shorter side, centred on grey, plus sensor noise."""
    rng = np.random.default_rng(0)
    side = min(width, height)
    photo = Image.new("RGB", (width, height), (96, 104, 112))
    astronaut = Image.fromarray(skimage.data.astronaut()).resize((side, side), Image.Resampling.LANCZOS)
    photo.paste(astronaut, ((width - side) // 2, (height - side) // 2))
    noisy = np.asarray(photo, np.float32) + rng.normal(0.0, 3.0, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def wait(client: httpx.Client, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            if job["status"] == "failed":
                raise SystemExit(f"job {job_id} failed: {job['error']}")
            return job
        time.sleep(0.05)


def timed(client: httpx.Client, post: Any) -> tuple[dict[str, Any], float, float, int]:
    start = time.perf_counter()
    job = wait(client, post().json()["job_id"])
    done = time.perf_counter() - start
    photo = client.get(job["result"]["photo_url"])
    photo.raise_for_status()
    return job, done, time.perf_counter() - start, len(photo.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--size", default="4000x3000")
    parser.add_argument("--encodes", type=int, default=2)
    parser.add_argument("--edits", type=int, default=2)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    data = phone_photo(width, height)
    print(f"{width}×{height} JPEG, {len(data) / 1e6:.1f} MB, to {args.url}")
    with httpx.Client(base_url=args.url, timeout=120) as client:
        lid = ""
        for i in range(args.encodes):
            job, done, fetched, size = timed(client, lambda: client.post(
                "/encode", files={"image": ("photo.jpg", data, "image/jpeg")}))
            lid = job["result"]["latent_id"]
            print(f"encode {i + 1}: succeeded at {done:.2f} s, "
                  f"photo ({size / 1e6:.1f} MB) at {fetched:.2f} s")
        for i in range(args.edits):
            amount = 0.3 if i % 2 == 0 else -0.3
            _, done, fetched, _ = timed(client, lambda a=amount: client.post(
                "/manipulate", json={"latent_id": lid, "edits": {"Smiling": a}}))
            print(f"edit {i + 1} (Smiling {amount:+}): succeeded at {done:.2f} s, photo at {fetched:.2f} s")
        client.delete(f"/latents/{lid}")


if __name__ == "__main__":
    main()
