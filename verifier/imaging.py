"""Finding QR codes in a photo or scan of a page (zxing-cpp), robust to print-and-scan wear.

The image is decoded as given; if nothing is found, a few cheap clean-ups are tried in turn
(greyscale + autocontrast, a sharpened copy, an upscaled copy, a binarised copy). Only QR
codes are read. Images are bounded in bytes and pixels so a hostile upload cannot exhaust
memory or time: the size is read from the header before anything is decoded; a JPEG is
decoded straight at a reduced scale (its DCT allows 1/2, 1/4, 1/8), every other format is
decoded whole, so above `MAX_FULL_DECODE_PIXELS` it is refused (a 74 kB blank 59-megapixel
PNG inflated to 177 MB and took seconds before a single QR code was looked for).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator

MAX_IMAGE_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 60_000_000
"""Largest JPEG accepted (header size); it is decoded at a reduced scale."""
MAX_FULL_DECODE_PIXELS = 24_000_000
"""Largest image of another format (PNG, GIF, BMP, WebP): those are decoded whole."""
WORK_PIXELS = 8_000_000
"""Larger images are scaled down to about this before decoding: a QR code on a page is still
hundreds of pixels wide at 2,800 × 2,800, and the clean-ups copy the image several times
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
            img = Image.open(io.BytesIO(bytes(data)))  # reads the header only
            _check_size(img)
            _draft(img)
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


def _check_size(img) -> None:  # PIL image, not yet decoded
    """Refuse before decoding: too many pixels for its format."""
    pixels = img.width * img.height
    if pixels > MAX_PIXELS:
        raise ImageError(f"the image has too many pixels (over {MAX_PIXELS // 10**6} MP)")
    if img.format != "JPEG" and pixels > MAX_FULL_DECODE_PIXELS:
        raise ImageError(
            f"the image has too many pixels (over {MAX_FULL_DECODE_PIXELS // 10**6} MP "
            "unless it is a JPEG); send a smaller picture"
        )


def _draft(img) -> None:  # PIL image, not yet decoded
    """Have a large JPEG decoded at the smallest DCT scale still over `WORK_PIXELS`."""
    pixels = img.width * img.height
    if img.format == "JPEG" and pixels > WORK_PIXELS:
        factor = math.sqrt(pixels / WORK_PIXELS)
        mode = "L" if img.mode == "L" else "RGB"
        img.draft(mode, (math.ceil(img.width / factor), math.ceil(img.height / factor)))


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
