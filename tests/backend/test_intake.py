"""Photo intake: every bad upload gets its code; every good one becomes upright 8-bit RGB."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageCms

from backend.intake import BACKGROUND, load_photo
from models.errors import StudioError, TooLargeError, UnsupportedImageError

MB = 2**20
Encode = Callable[..., bytes]


def load(data: bytes, max_bytes: int = 20 * MB, max_pixels: int = 50_000_000) -> Image.Image:
    return load_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)


def error_of(data: bytes, **limits: int) -> StudioError:
    with pytest.raises(StudioError) as info:
        load(data, **limits)
    return info.value


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def bilevel_png(width: int, height: int) -> bytes:
    """A real, valid 1-bit PNG of the given size, all black: tiny on disk, huge in memory."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data)
            + png_chunk(b"IEND", b""))


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean())


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_decode_to_rgb(astronaut: Image.Image, encode: Encode, fmt: str) -> None:
    photo = load(encode(astronaut, fmt, quality=95))
    assert photo.mode == "RGB" and photo.size == (512, 512)
    assert mean_abs_diff(photo, astronaut) < (0.01 if fmt == "PNG" else 4.0)


def test_empty_upload_is_unsupported() -> None:
    err = error_of(b"")
    assert isinstance(err, UnsupportedImageError) and err.code == "unsupported_image"
    assert "empty" in err.message and "JPEG, PNG or WebP" in err.message


def test_random_bytes_are_unsupported() -> None:
    err = error_of(np.random.default_rng(0).bytes(4000))
    assert err.code == "unsupported_image"
    assert "not a readable JPEG, PNG or WebP image" in err.message


def test_truncated_jpeg_is_unsupported(astronaut: Image.Image, encode: Encode) -> None:
    data = encode(astronaut, "JPEG", quality=90)
    err = error_of(data[: len(data) // 2])
    assert err.code == "unsupported_image" and "truncated or corrupt" in err.message


def test_truncated_png_is_unsupported(astronaut: Image.Image, encode: Encode) -> None:
    data = encode(astronaut, "PNG")
    assert error_of(data[: len(data) - 5000]).code == "unsupported_image"


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_other_formats_are_named_and_refused(
    astronaut: Image.Image, encode: Encode, fmt: str, name: str
) -> None:
    err = error_of(encode(astronaut, fmt))
    assert err.code == "unsupported_image"
    assert err.message.startswith(f"{name} images are not supported")
    assert "JPEG, PNG or WebP" in err.message


def test_too_many_bytes_is_checked_first(astronaut: Image.Image, encode: Encode) -> None:
    data = encode(astronaut, "PNG")
    err = error_of(data, max_bytes=1000)
    assert isinstance(err, TooLargeError) and err.code == "too_large"
    assert f"{len(data):,} bytes" in err.message and "1,000 bytes" in err.message
    # the byte limit wins even over garbage: nothing is parsed beyond it
    assert error_of(b"x" * 2000, max_bytes=1000).code == "too_large"


def test_too_many_pixels_is_refused_from_the_header(astronaut: Image.Image, encode: Encode) -> None:
    err = error_of(encode(astronaut, "PNG"), max_pixels=512 * 512 - 1)
    assert err.code == "too_large"
    assert "512×512 = 262,144 pixels" in err.message and "262,143" in err.message
    assert load(encode(astronaut, "PNG"), max_pixels=512 * 512).size == (512, 512)


def test_decompression_bomb_is_too_large() -> None:
    bomb = bilevel_png(20_000, 20_000)  # 400 Mpx in a few tens of KB
    assert len(bomb) < 200_000
    assert error_of(bomb).code == "too_large"
    # even when the caller's limit is huge, Pillow's own bomb guard still answers too_large
    assert error_of(bomb, max_pixels=10**12).code == "too_large"


def test_crafted_header_is_refused_before_decoding() -> None:
    # 81 Mpx: under Pillow's own bomb guard, over our limit; the pixel data is 10 bytes.
    header = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
    crafted = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
               + png_chunk(b"IDAT", zlib.compress(bytes(10))) + png_chunk(b"IEND", b""))
    err = error_of(crafted)
    assert err.code == "too_large" and "9000×9000" in err.message
    # and with a high enough limit, the same file is found to be truncated
    assert error_of(crafted, max_pixels=10**8).code == "unsupported_image"


def test_zero_size_png_is_unsupported() -> None:
    assert error_of(bilevel_png(1, 1)[:16] + b"\x00" * 17).code == "unsupported_image"


def test_grayscale_becomes_grey_rgb(astronaut: Image.Image, encode: Encode) -> None:
    grey = astronaut.convert("L")
    photo = load(encode(grey, "PNG"))
    arr = np.asarray(photo)
    assert photo.mode == "RGB"
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    assert (arr[..., 0] == np.asarray(grey)).all()


def test_palette_becomes_its_colours(astronaut: Image.Image, encode: Encode) -> None:
    palette = astronaut.quantize(64)
    photo = load(encode(palette, "PNG"))
    assert photo.mode == "RGB"
    assert (np.asarray(photo) == np.asarray(palette.convert("RGB"))).all()


def test_palette_transparency_is_flattened_onto_white(encode: Encode) -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((0, 0), 0)
    photo = load(encode(image, "PNG", transparency=1))
    assert photo.getpixel((0, 0)) == (255, 0, 0)
    assert photo.getpixel((3, 3)) == BACKGROUND == (255, 255, 255)


def test_cmyk_jpeg_is_converted(astronaut: Image.Image, encode: Encode) -> None:
    data = encode(astronaut.convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    photo = load(data)
    assert photo.mode == "RGB"
    assert mean_abs_diff(photo, astronaut) < 3.0


def test_16_bit_png_is_scaled_not_clipped(encode: Encode) -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    photo = load(data)
    assert photo.mode == "RGB"
    assert np.asarray(photo)[0, :, 0].tolist() == [0, 1, 128, 255]


def test_rgba_is_composited_onto_white(encode: Encode) -> None:
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (255, 0, 0, 128)  # half-transparent red
    rgba[1, 0] = (0, 255, 0, 0)  # invisible green
    photo = load(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert photo.mode == "RGB"
    assert photo.getpixel((0, 0)) == (255, 0, 0)
    r, g, b = np.asarray(photo)[0, 1].tolist()
    assert r == 255 and 125 <= g <= 129 and g == b
    assert photo.getpixel((0, 1)) == (255, 255, 255)


def test_exif_orientation_is_applied(astronaut: Image.Image, encode: Encode) -> None:
    upright = astronaut.crop((0, 0, 400, 512))  # portrait, so the rotation shows in the size
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    photo = load(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert stored.size == (512, 400) and photo.size == (400, 512)
    assert mean_abs_diff(photo, upright) < 4.0


def test_embedded_srgb_profile_keeps_colours(astronaut: Image.Image, encode: Encode) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = load(encode(astronaut, "PNG", icc_profile=srgb))
    assert mean_abs_diff(photo, astronaut) < 1.0


def test_broken_icc_profile_is_ignored(astronaut: Image.Image, encode: Encode) -> None:
    photo = load(encode(astronaut, "PNG", icc_profile=b"not a profile"))
    assert mean_abs_diff(photo, astronaut) == 0.0
