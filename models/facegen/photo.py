"""Photorealistic training faces: MobileStyleGAN (distilled from StyleGAN2-FFHQ) from the `random-face`
package, run with today's OpenVINO, rendered deterministically from seeds and cached as image shards.

    python -m models.facegen.photo generate --n 20000            # runs/cache/photofaces_.../train_*.npz
    python -m models.facegen.photo sheet --n 64 --out sheet.jpg  # a contact sheet of the first faces

Only the package's data files are used (its own loader needs an OpenVINO API that no longer
exists): `random_face/data/MappingNetwork.{xml,bin}` (z (B, 512) → w (B, 512)) and
`SynthesisNetwork.{xml,bin}` (w → image (B, 3, 1024, 1024), RGB in [-1, 1]). Faces come out
FFHQ-aligned, like the official DiffAE training data.

Face `seed` is z = N(0, I) drawn by `np.random.default_rng(seed)`; w = w̄ + ψ(w(z) − w̄) with w̄ the
mean of `MEAN_SAMPLES` mapped z from a fixed seed (the truncation trick). Train faces use seeds
0, 1, 2, ...; `TEST_SEED_OFFSET` + i are held out. Images are resized from 1024 px with Pillow's
LANCZOS (as the official `ffhqlmdb256` was) to every size kept.

Speed: the synthesis network's inverse Haar transforms are exported as a channel split, a
5-D reshape and six stride-2 transposed convolutions, and OpenVINO's CPU plugin runs that split
with a reference kernel (37 % of the time). `rewrite_idwt` replaces each with a channel gather,
a grouped 1×1 convolution holding the same 2×2 synthesis filters and a depth-to-space: the same
function (max |Δ| 6e-7 on a [-1, 1] image) at 2.2× the speed. bf16 on AMX doubles it again.

Cache: a shard folder is keyed by `generator_digest`, which hashes the generator's IR files and
`FORMAT_VERSION` only, not this code: moving or refactoring it keeps every rendered shard valid
as long as the pixels stay the same (bump `FORMAT_VERSION` when they change). The generator's
[-1, 1] output becomes pixels with `models.images.to_uint8`, the project's one conversion.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from models.images import to_uint8

PACKAGE = "random-face==2021.7.21.1"
STYLE_DIM = 512
MEAN_SAMPLES = 4096
MEAN_SEED = 20210721
TEST_SEED_OFFSET = 1_000_000
SHARD_SIZE = 500
DEFAULT_PSI = 0.8
DEFAULT_SIZES = (64, 256)
JPEG_QUALITY = 90
LOSSLESS_MAX = 128  # sizes up to this are kept as PNG (training data), larger ones as JPEG
FORMAT_VERSION = 1  # bump when the rendering or the shard layout changes


def generator_dir() -> Path:
    """The folder holding the package's IR files, found without importing the package."""
    spec = importlib.util.find_spec("random_face")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the photoreal face generator needs the training extra: pip install {PACKAGE} openvino")
    root = Path(next(iter(spec.submodule_search_locations))) / "data"
    for name in ("MappingNetwork", "SynthesisNetwork"):
        for ext in (".xml", ".bin"):
            if not (root / (name + ext)).is_file():
                raise FileNotFoundError(f"{root / (name + ext)} is missing from the {PACKAGE} package")
    return root


def generator_digest() -> str:
    """Hash of the generator's weights and graphs and of the rendering version: the cache key."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    root = generator_dir()
    for name in ("MappingNetwork.xml", "MappingNetwork.bin", "SynthesisNetwork.xml", "SynthesisNetwork.bin"):
        h.update((root / name).read_bytes())
    return h.hexdigest()[:12]


# ------------------------------------------------------------------------------- graph rewrite
def _haar_paths(output: Any, path: list[tuple[tuple[int, ...], np.ndarray]],
                found: list[tuple[Any, int, list[tuple[tuple[int, ...], np.ndarray]]]]) -> None:
    """Walk back from an inverse-DWT output to its band inputs, collecting the 1-D synthesis
    filter of every transposed convolution on the way (stride, kernel)."""
    node = output.get_node()
    kind = node.get_type_name()
    if kind == "Add":
        for i in range(node.get_input_size()):
            _haar_paths(node.input_value(i), path, found)
    elif kind == "GroupConvolutionBackpropData":
        kernel = node.input_value(1).get_node().get_data()  # (C, 1, 1, kh, kw)
        if not np.array_equal(kernel, np.broadcast_to(kernel[:1], kernel.shape)):
            raise ValueError(f"{node.get_friendly_name()}: per-channel filters differ; not a wavelet")
        _haar_paths(node.input_value(0), [*path, (tuple(node.get_strides()), kernel[0, 0, 0])], found)
    elif kind in ("Squeeze", "Unsqueeze"):
        _haar_paths(node.input_value(0), path, found)
    elif kind == "VariadicSplit":
        found.append((node, output.get_index(), path))
    else:
        raise ValueError(f"unexpected {kind} {node.get_friendly_name()} inside an inverse DWT")


def rewrite_idwt(model: Any) -> int:
    """Replace every exported inverse 2-D DWT in `model` (OpenVINO `Model`, in place) by
    gather → grouped 1×1 convolution → depth_to_space. Returns how many were replaced.

    The exported form: X (B, 4C, H, W) is split into LL = X[:, :C] and the rest, reshaped to
    (B, C, 3, H, W) (band k of channel c at C + 3c + k); each band goes through a vertical then
    a horizontal stride-2 transposed convolution with 2-tap filters, and the four are summed. So
    out[c, 2i+a, 2j+b] = Σ_k M[2a+b, k] · band_k[c, i, j] with M[2a+b, k] = v_k[a] · h_k[b].
    """
    import openvino.opset13 as ops

    roots = []
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Add":
            continue
        ins = [op.input_value(i).get_node() for i in range(op.get_input_size())]
        if all(n.get_type_name() == "GroupConvolutionBackpropData" and list(n.get_strides()) == [1, 2]
               for n in ins):
            roots.append(op)
    for add in roots:
        found: list[tuple[Any, int, list[tuple[tuple[int, ...], np.ndarray]]]] = []
        _haar_paths(add.output(0), [], found)
        top = next(n for n, _, _ in found if len(n.get_input_partial_shape(0)) == 4)
        x = top.input_value(0)
        c = int(x.get_partial_shape()[1].get_length()) // 4
        if list(top.input_value(2).get_node().get_data()) != [c, 3 * c] or len(found) != 4:
            raise ValueError(f"{add.get_friendly_name()}: not the expected inverse-DWT layout")
        mix = np.zeros((4, 4), np.float32)  # (2a + b, band k)
        for split, index, path in found:
            band = 0 if split is top else 1 + index
            (sv, v), (sh, hz) = path[::-1]  # vertical filter first, then horizontal
            if sv != (2, 1) or sh != (1, 2):
                raise ValueError(f"{add.get_friendly_name()}: unexpected strides {sv}, {sh}")
            mix[:, band] += np.outer(v.reshape(2), hz.reshape(2)).reshape(4)
        order = np.array([ch if k == 0 else c + 3 * ch + k - 1 for ch in range(c) for k in range(4)])
        gathered = ops.gather(x, ops.constant(order.astype(np.int64)), ops.constant(np.int64(1)))
        weight = np.ascontiguousarray(np.broadcast_to(mix.reshape(1, 4, 4, 1, 1), (c, 4, 4, 1, 1)))
        mixed = ops.group_convolution(gathered, ops.constant(weight), [1, 1], [0, 0], [0, 0], [1, 1])
        add.output(0).replace(ops.depth_to_space(mixed, "depth_first", 2).output(0))
    model.validate_nodes_and_infer_types()
    return len(roots)


# ------------------------------------------------------------------------------- generator
def latents(seeds: Sequence[int]) -> np.ndarray:
    """z (N, 512) float32: face `seed` is `np.random.default_rng(seed).standard_normal(512)`."""
    z = [np.random.default_rng(int(s)).standard_normal(STYLE_DIM) for s in seeds]
    return np.stack(z).astype(np.float32)


def resize_lanczos(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 → (size, size, 3) uint8 with Pillow's LANCZOS (antialiased)."""
    if image.shape[0] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))


class PhotoFaceGenerator:
    """MobileStyleGAN on OpenVINO's CPU plugin.

    Args:
        psi: truncation ψ (1 = no truncation; smaller trades diversity for quality).
        precision: "bf16" (AMX; the default on CPUs that have it) or "f32" (portable, exact).
        streams: OpenVINO CPU streams (parallel requests); threads: CPU threads in all.
    """

    def __init__(self, psi: float = DEFAULT_PSI, precision: str = "bf16", streams: int = 2,
                 threads: int = 2) -> None:
        import openvino as ov

        self.psi, self.precision, self.streams = psi, precision, streams
        root = generator_dir()
        core = ov.Core()
        mapping = core.read_model(str(root / "MappingNetwork.xml"))
        mapping.reshape({"var": [MEAN_SAMPLES, STYLE_DIM]})
        # The mapping network is tiny: always f32, so w̄ and w do not depend on the precision.
        mean_net = core.compile_model(mapping, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        z = np.random.default_rng(MEAN_SEED).standard_normal((MEAN_SAMPLES, STYLE_DIM)).astype(np.float32)
        self.w_mean = mean_net(z)[0].mean(axis=0, keepdims=True)  # (1, 512)
        mapping_one = core.read_model(str(root / "MappingNetwork.xml"))
        mapping_one.reshape({"var": [1, STYLE_DIM]})
        self._mapping_one = core.compile_model(mapping_one, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        synthesis = core.read_model(str(root / "SynthesisNetwork.xml"))
        rewrite_idwt(synthesis)
        self._synthesis = core.compile_model(synthesis, "CPU", {
            "INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": str(streams),
            "INFERENCE_NUM_THREADS": str(threads)})
        self._ov = ov

    def styles(self, seeds: Sequence[int]) -> np.ndarray:
        """Truncated w (N, 512) float32 for the seeds."""
        w = np.concatenate([self._mapping_one(z[None])[0] for z in latents(seeds)])
        return (self.w_mean + self.psi * (w - self.w_mean)).astype(np.float32)

    def render(self, seeds: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(seed, (1024, 1024, 3) uint8) in the order of `seeds`, `streams` faces in flight."""
        styles = self.styles(seeds)
        queue = self._ov.AsyncInferQueue(self._synthesis, self.streams)
        done: dict[int, np.ndarray] = {}
        queue.set_callback(
            lambda request, i: done.__setitem__(i, to_uint8(request.get_output_tensor(0).data[0])))
        nxt = 0
        for i in range(len(seeds)):
            queue.start_async({"style": styles[i:i + 1]}, i)
            while nxt in done:
                yield int(seeds[nxt]), done.pop(nxt)
                nxt += 1
        queue.wait_all()
        while nxt < len(seeds):
            yield int(seeds[nxt]), done.pop(nxt)
            nxt += 1


# ------------------------------------------------------------------------------- shards
def encode_image(image: np.ndarray) -> bytes:
    """PNG for training sizes (≤ LOSSLESS_MAX: lossless), JPEG q90 4:4:4 above (labelling, sheets)."""
    buf = io.BytesIO()
    if image.shape[0] <= LOSSLESS_MAX:
        Image.fromarray(image).save(buf, "PNG")
    else:
        Image.fromarray(image).save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    return buf.getvalue()


def decode_image(data: bytes | np.ndarray) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))


@dataclass(frozen=True)
class FaceCache:
    """Shards of `shard_size` faces under `root/photofaces_psi{ψ}_{precision}_{digest}/`:
    `{split}_{k:05d}.npz` with `seeds` (n,) and, per kept size S, `image{S}` (the encoded images,
    PNG up to LOSSLESS_MAX px, else JPEG, concatenated) and `offsets{S}` (n + 1,). Shard k of a
    split holds its faces k·shard_size … (k + 1)·shard_size − 1."""

    root: Path
    psi: float = DEFAULT_PSI
    precision: str = "bf16"
    sizes: tuple[int, ...] = DEFAULT_SIZES
    shard_size: int = SHARD_SIZE

    @property
    def folder(self) -> Path:
        size = "" if self.shard_size == SHARD_SIZE else f"_shard{self.shard_size}"
        return self.root / f"photofaces_psi{self.psi:g}_{self.precision}_{generator_digest()}{size}"

    def shard_path(self, split: str, k: int) -> Path:
        return self.folder / f"{split}_{k:05d}.npz"

    def seeds_of(self, split: str, k: int) -> list[int]:
        base = TEST_SEED_OFFSET if split == "test" else 0
        return list(range(base + k * self.shard_size, base + (k + 1) * self.shard_size))

    def shards(self, n: int) -> range:
        """The shard indices holding the first n faces."""
        return range(math.ceil(n / self.shard_size))

    def missing(self, split: str, n: int) -> list[int]:
        return [k for k in self.shards(n) if not self.shard_path(split, k).is_file()]

    def fill(self, split: str, n: int, *, streams: int = 2, threads: int = 2, quiet: bool = False) -> None:
        """Render and write every missing shard of the first `n` faces of `split` (resumable:
        finished shards are kept, a shard is written atomically once whole)."""
        todo = self.missing(split, n)
        if not todo:
            return
        gen = PhotoFaceGenerator(self.psi, self.precision, streams=streams, threads=threads)
        self.folder.mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=len(todo) * self.shard_size, desc=f"photofaces {split}", unit="face", disable=quiet)
        t0, made = time.perf_counter(), 0
        for k in todo:
            seeds = self.seeds_of(split, k)
            blobs: dict[int, list[bytes]] = {s: [] for s in self.sizes}
            for _, image in gen.render(seeds):
                for s in self.sizes:
                    blobs[s].append(encode_image(resize_lanczos(image, s)))
                made += 1
                bar.update(1)
                bar.set_postfix(faces_s=f"{made / (time.perf_counter() - t0):.2f}")
            arrays: dict[str, np.ndarray] = {"seeds": np.asarray(seeds, np.int64)}
            for s, items in blobs.items():
                arrays[f"image{s}"] = np.frombuffer(b"".join(items), np.uint8)
                arrays[f"offsets{s}"] = np.cumsum([0, *map(len, items)]).astype(np.int64)
            path = self.shard_path(split, k)
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, path)
        bar.close()

    def load_shard(self, split: str, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(seeds (n,), images (n, size, size, 3) uint8) of shard k; a size that is not stored
        is resized with LANCZOS from the smallest larger stored one."""
        path = self.shard_path(split, k)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not rendered; render it: "
                                    f"python -m models.facegen.photo generate --split {split} "
                                    f"--n {(k + 1) * self.shard_size}")
        larger = [s for s in self.sizes if s >= size]
        if not larger:
            raise ValueError(f"size {size} is above every stored size {self.sizes}")
        src = size if size in self.sizes else min(larger)
        with np.load(path) as shard:
            data, off, seeds = shard[f"image{src}"], shard[f"offsets{src}"], shard["seeds"]
            images = np.stack([resize_lanczos(decode_image(data[off[j]:off[j + 1]]), size)
                               for j in range(len(seeds))])
        return seeds, images

    def load(self, split: str, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(seeds (n,), images (n, size, size, 3) uint8) of the first `n` faces of `split`."""
        missing = self.missing(split, n)
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of {len(self.shards(n))} shards of {split} are not in {self.folder}; "
                f"render them: python -m models.facegen.photo generate --split {split} --n {n}")
        parts = [self.load_shard(split, k, size) for k in self.shards(n)]
        return np.concatenate([p[0] for p in parts])[:n], np.concatenate([p[1] for p in parts])[:n]


def contact_sheet(images: np.ndarray, cols: int = 8, labels: Sequence[str] | None = None) -> Image.Image:
    """(N, H, W, 3) uint8 → one grid image; optional text under each face."""
    from PIL import ImageDraw

    n, h, w, _ = images.shape
    rows = math.ceil(n / cols)
    pad = 12 if labels else 0
    sheet = Image.new("RGB", (cols * w, rows * (h + pad)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, img in enumerate(images):
        x, y = (i % cols) * w, (i // cols) * (h + pad)
        sheet.paste(Image.fromarray(img), (x, y))
        if labels:
            draw.text((x + 2, y + h), labels[i], fill="black")
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.facegen.photo",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("generate", "sheet"):
        p = sub.add_parser(name)
        p.add_argument("--cache", default="runs/cache")
        p.add_argument("--split", choices=("train", "test"), default="train")
        p.add_argument("--n", type=int, default=20_000)
        p.add_argument("--psi", type=float, default=DEFAULT_PSI)
        p.add_argument("--precision", choices=("bf16", "f32"), default="bf16")
        p.add_argument("--streams", type=int, default=2)
        p.add_argument("--threads", type=int, default=2)
        if name == "sheet":
            p.add_argument("--size", type=int, default=64)
            p.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    cache = FaceCache(Path(args.cache), args.psi, args.precision)
    cache.fill(args.split, args.n, streams=args.streams, threads=args.threads)
    if args.command == "sheet":
        seeds, images = cache.load(args.split, args.n, args.size)
        contact_sheet(images, labels=[str(s) for s in seeds] if args.size >= 64 else None).save(args.out)
    print(cache.folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
