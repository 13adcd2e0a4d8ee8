"""Finding QR codes in a photo or scan of a page (zxing-cpp), robust to print-and-scan wear.

The image is decoded as given; if nothing is found, a few cheap clean-ups are tried in turn
(greyscale + autocontrast, a sharpened copy, an upscaled copy, a binarised copy). Only QR
codes are read. Images are bounded in bytes and pixels so a hostile upload cannot exhaust
memory.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator

MAX_IMAGE_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 60_000_000
WORK_PIXELS = 16_000_000
"""Larger images are scaled down to about this before decoding: a QR code on a page is still
hundreds of pixels wide at 4,000 × 4,000, and the clean-ups copy the image several times
(a 60 MP photo took 830 MB)."""


class ImageError(ValueError):
    """The bytes are not an image that can be read."""


def _load(data: bytes):  # PIL.Image.Image, imported lazily
    from PIL import Image

    if not isinstance(data, bytes | bytearray | memoryview) or not data:
        raise ImageError("no image data")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError("the image is too large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(bytes(data)))
            if img.width * img.height > MAX_PIXELS:
                raise ImageError("the image has too many pixels")
            img.load()
    except ImageError:
        raise
    except Exception as exc:  # PIL raises many types for bad files
        raise ImageError(f"not a readable image: {type(exc).__name__}") from None
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    if img.width * img.height > WORK_PIXELS:
        factor = math.ceil(math.sqrt(img.width * img.height / WORK_PIXELS))
        img = img.convert("L").reduce(factor)
    return img


def _variants(img) -> Iterator[object]:  # PIL image
    from PIL import ImageFilter, ImageOps

    yield img
    grey = ImageOps.autocontrast(img.convert("L"))
    yield grey
    yield grey.filter(ImageFilter.UnsharpMask(radius=2, percent=200, threshold=2))
    if max(grey.size) < 2500:
        yield grey.resize((grey.width * 2, grey.height * 2))
    yield grey.point(lambda v: 255 if v > 128 else 0)


def decode_qr_texts(data: bytes) -> list[str]:
    """Texts of every QR code found in the image (in reading order, no duplicates)."""
    import zxingcpp  # native decoder loaded only when scanning

    img = _load(data)
    for variant in _variants(img):
        try:
            found = zxingcpp.read_barcodes(variant, formats=zxingcpp.BarcodeFormat.QRCode)
        except Exception:  # a decoder failure on one variant: try the next
            continue
        texts = [b.text for b in found if b.valid and b.text]
        if texts:
            return list(dict.fromkeys(texts))
    return []
