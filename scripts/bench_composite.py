"""What a whole-photo result costs: a 12-Mpx upload, one edit's crop, its photo composed on fetch.

    python -m scripts.bench_composite [--redis redis://127.0.0.1:6379/15] [--repeats 3]

Stores an upload (the astronaut upscaled to 4000×3000 with mild sensor noise, saved as a JPEG
like a phone photo), its aligned crop and a composite record in Redis (a scratch database; the
upload is deleted at the end), then times `compose_photo` — what `GET photo_url` does — and prints
the PNG's size (what each edit stored in Redis before composites) against the record's.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import redis
import skimage.data
from PIL import Image

from backend.alignment import align_face, fast_transform_size
from backend.landmarks import get_detector
from backend.upload import compose_photo
from worker.storage import Composite, Keys, Storage, UploadMeta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    photo = Image.fromarray(skimage.data.astronaut()).resize((4000, 3000), Image.Resampling.LANCZOS)
    noisy = np.asarray(photo, np.float32) + rng.normal(0.0, 3.0, (3000, 4000, 3))
    photo = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    upload = io.BytesIO()
    photo.save(upload, format="JPEG", quality=90)
    aligned = align_face(photo, 64, detector=get_detector("dlib", max_detect_pixels=2048 * 2048),
                         transform_size=fast_transform_size(64))
    crop = io.BytesIO()
    aligned.image.save(crop, format="PNG")

    storage = Storage(redis.Redis.from_url(args.redis), ttl_s=300)
    lid, job = "f" * 32, "e" * 32
    meta = UploadMeta(latent_id=lid, quad=aligned.quad.tolist(), faces=[], face=0, preset="demo64",
                      image_size=64, photo_size=photo.size)
    storage.create_upload(meta, upload.getvalue(), crop.getvalue())
    try:
        storage.put_image(f"{job}-crop", crop.getvalue(), "image/png", owner_key=Keys.meta(lid), lids=[lid])
        storage.put_composite(f"{job}-photo", lid, f"{job}-crop", owner_key=Keys.meta(lid), lids=[lid])
        found = storage.image(f"{job}-photo")
        assert isinstance(found, Composite)
        times, png = [], b""
        for _ in range(args.repeats):
            start = time.perf_counter()
            png = compose_photo(storage, f"{job}-photo", found)
            times.append(time.perf_counter() - start)
        usage = storage.r.memory_usage
        print(f"upload: {photo.width}×{photo.height} JPEG, {len(upload.getvalue()) / 1e6:.1f} MB")
        print(f"GET photo_url (compose_photo), median of {args.repeats}: {float(np.median(times)):.2f} s, "
              f"PNG {len(png) / 1e6:.1f} MB")
        print(f"Redis per edit: composite record {usage(Keys.image(f'{job}-photo'))} B + crop "
              f"{usage(Keys.image(f'{job}-crop'))} B (a stored photo PNG: {len(png) / 1e6:.1f} MB)")
    finally:
        storage.delete(lid)


if __name__ == "__main__":
    main()
