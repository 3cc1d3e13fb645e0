"""Photo intake: untrusted upload bytes → an upright 8-bit RGB `PIL.Image`, or a `StudioError`.

Order of checks (cheapest and safest first): byte size, format sniff, header (dimensions,
before any pixel is decoded), full decode, EXIF orientation, colour conversion.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms, ImageOps

from models.errors import TooLargeError, UnsupportedImageError

#: Pillow format names accepted (MPO, the multi-picture JPEG of phone cameras, opens as JPEG).
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
_ALLOWED_TEXT = "JPEG, PNG or WebP"

#: Transparent pixels are composited onto this colour (documented in docs/alignment.md).
BACKGROUND = (255, 255, 255)

# Leading bytes of formats people commonly upload by mistake, to name them in the message.
_MAGIC = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
)
_FTYP_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF"}


def _sniff_other_format(data: bytes) -> str | None:
    """Name a well-known non-accepted format from its magic bytes, if recognisable."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(data[8:12], "ISO media (HEIC/AVIF/MP4)")
    return None


def load_photo(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Decode an uploaded photo into an upright RGB image.

    Args:
        data: the raw upload.
        max_bytes: upper limit on `len(data)`, checked before anything is parsed.
        max_pixels: upper limit on width × height, checked from the header before decoding.

    Returns:
        A fully loaded `PIL.Image` in mode "RGB" (8 bits per channel), with the EXIF
        orientation applied, alpha composited onto `BACKGROUND`, 16-bit samples scaled to
        8 bits and an embedded ICC profile converted to sRGB.

    Raises:
        TooLargeError: more than `max_bytes` bytes or more than `max_pixels` pixels.
        UnsupportedImageError: empty, not an image, another format than JPEG/PNG/WebP, truncated
            or corrupt.
    """
    if len(data) > max_bytes:
        raise TooLargeError(
            f"the upload is {len(data):,} bytes; the limit is {max_bytes:,} bytes "
            f"({max_bytes / 2**20:.1f} MiB)"
        )
    if not data:
        raise UnsupportedImageError(f"the upload is empty (0 bytes); send a {_ALLOWED_TEXT} photo")
    other = _sniff_other_format(data)
    if other is not None:
        raise UnsupportedImageError(f"{other} images are not supported; send a {_ALLOWED_TEXT} photo")

    try:
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise TooLargeError(f"the image declares too many pixels ({exc})") from exc
    except Exception as exc:  # Pillow raises many types on hostile headers; all mean the same
        raise UnsupportedImageError(
            f"the upload is not a readable {_ALLOWED_TEXT} image ({len(data):,} bytes)"
        ) from exc

    width, height = image.size
    if width * height > max_pixels:
        raise TooLargeError(
            f"the image is {width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,} pixels"
        )
    if width == 0 or height == 0:
        raise UnsupportedImageError(f"the image has no pixels ({width}×{height})")

    fmt = image.format or "image"
    try:
        image.load()  # decode everything now, so truncation surfaces here and not later
        upright = ImageOps.exif_transpose(image)
    except Exception as exc:
        raise UnsupportedImageError(
            f"the {fmt} file is truncated or corrupt and cannot be decoded ({exc})"
        ) from exc
    return _to_rgb(upright)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any decoded mode → 8-bit sRGB "RGB", flattening alpha onto `BACKGROUND`."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's own I;16 → L conversion clips at 255; scale the 16-bit range instead.
        values = np.asarray(image).astype(np.float64)
        grey = np.clip(np.rint(values * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        values = np.asarray(image).astype(np.float64)
        scale = 255.0 if values.max(initial=0.0) <= 1.0 else 1.0
        grey = np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")

    image = _icc_to_srgb(image)
    mode = image.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode != "RGB":
        return image.convert("RGB")
    return image


def _icc_to_srgb(image: Image.Image) -> Image.Image:
    """Convert an image with an embedded ICC profile (e.g. Display P3, CMYK) to sRGB.

    A broken or unusable profile is ignored: the pixels are then taken as sRGB, which is what
    browsers do for profiles they cannot read.
    """
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image  # grey profiles only bend the tone curve; palette images carry none
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.createProfile("sRGB")
        out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(
            image, source, target, outputMode=out_mode, renderingIntent=ImageCms.Intent.PERCEPTUAL
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image
