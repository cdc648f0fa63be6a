"""Pixels in and out of the engine: uploads decoded into the pipelines' tensors, results encoded as files.

Runs in the engine process, on its generation thread (Pillow releases the GIL while it decodes,
compresses and resizes). The worker has checked each upload's header (uploads.py); a file that still
fails here (a truncated body, a corrupt stream) is that request's RequestRejected, a 400.
"""

import io

import numpy
from PIL import Image

from ovserve.runtime.engine import RequestRejected

PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def _open(data, param):
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except Exception as exc:  # any decoding failure is the upload's fault
        raise RequestRejected(f"'{param}' could not be decoded as an image: {exc}", param=param) from None


def _tensor_layout(image):
    """(1, height, width, 3) uint8: the layout the pipelines take."""
    return numpy.ascontiguousarray(numpy.asarray(image, dtype=numpy.uint8)[None, ...])


def decode_edit(image_data, mask_data, size):
    """(image, mask or None) as tensors of `size` (width, height).

    A mask repaints where it is transparent (OpenAI's convention); one without an alpha channel repaints
    where it is white (diffusers'). Without a mask, an image with transparent pixels is its own mask."""
    image = _open(image_data, "image")
    mask = None
    if mask_data is not None:
        mask = _mask_of(_open(mask_data, "mask"))
    elif _has_alpha(image):
        alpha = image.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] < 255:
            mask = alpha.point(lambda value: 255 if value == 0 else 0)
    image = image.convert("RGB")
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    if mask is not None and mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    return _tensor_layout(image), None if mask is None else _tensor_layout(mask.convert("RGB"))


def _has_alpha(image):
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _mask_of(image):
    if _has_alpha(image):
        return image.convert("RGBA").getchannel("A").point(lambda value: 255 if value == 0 else 0)
    return image.convert("L").point(lambda value: 255 if value >= 128 else 0)


def encode(pixels, output_format):
    """The (n, height, width, 3) uint8 array as n files in `output_format`."""
    files = []
    for frame in numpy.asarray(pixels, dtype=numpy.uint8):
        buffer = io.BytesIO()
        Image.fromarray(frame, "RGB").save(buffer, format=PIL_FORMATS[output_format])
        files.append(buffer.getvalue())
    return tuple(files)
