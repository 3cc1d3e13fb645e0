"""`models.facegen.photo`: the photoreal training faces are the generator's, deterministic by seed,
and their shards round-trip. Needs the training extra (random-face's IR files and openvino)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.facegen import photo
from models.facegen.photo import FaceCache, PhotoFaceGenerator, decode_image, encode_image, latents

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("random_face") is None or importlib.util.find_spec("openvino") is None,
    reason="the training extra is not installed (pip install openvino; pip install --no-deps random-face)",
)


@pytest.fixture(scope="module")
def generator() -> PhotoFaceGenerator:
    return PhotoFaceGenerator(precision="f32", streams=1, threads=2)


def _core_model(rewrite: bool) -> tuple[int, Any]:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(photo.generator_dir() / "SynthesisNetwork.xml"))
    n = photo.rewrite_idwt(model) if rewrite else 0
    return n, core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def test_rewritten_inverse_dwt_is_the_same_function() -> None:
    n, fast = _core_model(rewrite=True)
    _, exported = _core_model(rewrite=False)
    w = np.random.default_rng(0).standard_normal((1, 512)).astype(np.float32) * 0.5
    a, b = exported(w)[0], fast(w)[0]
    assert n == 8  # one inverse DWT per synthesis block: 8 → 1024 px
    assert a.shape == b.shape == (1, 3, 1024, 1024)
    assert np.abs(a).max() > 0.5  # a real image, not zeros
    assert np.abs(a - b).max() < 1e-4  # float summation order only (3.7e-5 seen)


def test_faces_are_deterministic_by_seed(generator: PhotoFaceGenerator) -> None:
    first = dict(generator.render([3, 7]))
    again = dict(generator.render([7, 3]))  # order and batch neighbours do not matter
    assert set(first) == {3, 7}
    for seed in (3, 7):
        assert first[seed].shape == (1024, 1024, 3) and first[seed].dtype == np.uint8
        np.testing.assert_array_equal(first[seed], again[seed])
    assert np.abs(first[3].astype(int) - first[7].astype(int)).mean() > 10  # different people
    z3 = np.random.default_rng(3).standard_normal(512).astype(np.float32)
    np.testing.assert_array_equal(latents([3])[0], z3)


def test_truncation_pulls_towards_the_mean_style(generator: PhotoFaceGenerator) -> None:
    w = generator.styles([5])
    raw = (w - generator.w_mean) / generator.psi + generator.w_mean
    assert np.linalg.norm(w - generator.w_mean) == pytest.approx(
        generator.psi * np.linalg.norm(raw - generator.w_mean), rel=1e-5)


def test_shards_round_trip_and_resume(tmp_path: Path, generator: PhotoFaceGenerator) -> None:
    cache = FaceCache(tmp_path, psi=generator.psi, precision="f32", sizes=(64, 256), shard_size=3)
    cache.fill("train", 5, streams=1, quiet=True)
    assert cache.missing("train", 6) == [] and len(list(cache.folder.glob("train_*.npz"))) == 2
    seeds, small = cache.load("train", 5, 64)
    assert seeds.tolist() == [0, 1, 2, 3, 4]
    direct = dict(generator.render([0, 4]))
    # 64 px is stored losslessly: exactly the generator's face, resized with LANCZOS.
    np.testing.assert_array_equal(small[4], photo.resize_lanczos(direct[4], 64))
    _, big = cache.load("train", 1, 256)
    assert np.abs(big[0].astype(int) - photo.resize_lanczos(direct[0], 256)).mean() < 4.0  # JPEG q90
    _, mid = cache.load("train", 1, 128)  # not stored: from 256
    assert mid.shape == (1, 128, 128, 3)
    kept = cache.shard_path("train", 0).stat().st_mtime_ns
    cache.shard_path("train", 1).unlink()
    assert cache.missing("train", 6) == [1]
    cache.fill("train", 6, streams=1, quiet=True)
    assert cache.shard_path("train", 0).stat().st_mtime_ns == kept  # finished shards are kept
    np.testing.assert_array_equal(cache.load("train", 5, 64)[1], small)
    with pytest.raises(FileNotFoundError, match="render them"):
        cache.load("train", 7, 64)


def test_image_codec_is_lossless_at_training_sizes() -> None:
    img = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(encode_image(img)), img)
    big = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert encode_image(big)[:2] == b"\xff\xd8"  # JPEG above LOSSLESS_MAX
