"""What a whole-photo result costs: a 12-Mpx upload, one edit's crop, its photo composed on fetch.

    python -m scripts.bench_composite [--redis redis://127.0.0.1:6379/15] [--repeats 3]

Stores an upload (`scripts.latency_service.phone_photo`: the astronaut on a 4000×3000 canvas with
mild sensor noise, as a JPEG), its aligned crop and the two composite records of an edit in Redis
(a scratch database; the upload is deleted at the end), then times `compose_photo` — what a GET of
`photo_url` and of `photo_replaced_url` does — and prints the PNG's size (what each edit stored in
Redis before composites) against the records'.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import redis
from PIL import Image

from backend.alignment import fast_transform_size
from backend.faces import align_face
from backend.landmarks import get_detector
from backend.photos import compose_photo
from scripts.latency_service import phone_photo
from worker.storage import Composite, Keys, Storage, UploadMeta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    upload = phone_photo(4000, 3000)
    photo = Image.open(io.BytesIO(upload)).convert("RGB")
    aligned = align_face(photo, 64, detector=get_detector("dlib", max_detect_pixels=2048 * 2048),
                         transform_size=fast_transform_size(64))
    crop = io.BytesIO()
    aligned.image.save(crop, format="PNG")

    client = redis.Redis.from_url(args.redis)
    storage = Storage(client, ttl_s=300)
    lid, job = "f" * 32, "e" * 32
    meta = UploadMeta(latent_id=lid, quad=aligned.quad.tolist(), faces=[], face=0, preset="demo64",
                      image_size=64, photo_size=photo.size, image_key="d" * 32)
    storage.create_upload(meta, upload, crop.getvalue())
    try:
        owner = Keys.meta(lid)
        for name in ("crop", "base"):  # the edit's crop and the unedited render (the same here)
            storage.put_image(f"{job}-{name}", crop.getvalue(), "image/png", owner_key=owner, lids=[lid])
        storage.put_composite(f"{job}-photo", lid, f"{job}-crop", base_iid=f"{job}-base", owner_key=owner,
                              lids=[lid])
        storage.put_composite(f"{job}-photo-replaced", lid, f"{job}-crop", owner_key=owner, lids=[lid])
        print(f"upload: {photo.width}×{photo.height} JPEG, {len(upload) / 1e6:.1f} MB")
        usage = client.memory_usage
        for name, what in (("photo", "photo_url (change added)"), ("photo-replaced", "photo_replaced_url")):
            found = storage.image(f"{job}-{name}")
            assert isinstance(found, Composite)
            times, png = [], b""
            for _ in range(args.repeats):
                start = time.perf_counter()
                png = compose_photo(storage, f"{job}-{name}", found)
                times.append(time.perf_counter() - start)
            print(f"GET {what}, median of {args.repeats}: {float(np.median(times)):.2f} s, "
                  f"PNG {len(png) / 1e6:.1f} MB; its record {usage(Keys.image(f'{job}-{name}'))} B")
        print(f"Redis per edit: the two records + crop {usage(Keys.image(f'{job}-crop'))} B + base "
              f"{usage(Keys.image(f'{job}-base'))} B (a stored photo PNG: {len(png) / 1e6:.1f} MB)")
    finally:
        storage.delete(lid)


if __name__ == "__main__":
    main()
