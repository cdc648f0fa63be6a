"""The worker's look at an uploaded image: its format and size from the header, before anything is decoded.

Pillow reads only the header here (microseconds, on the event loop): a file that is not an image, or
whose size is past the servable's limits, is refused with a 400 naming the field before it reaches
the engine, which then decodes at most the pixels the limits allow.
"""

import io
import warnings

from PIL import Image

from ovserve.errors import InvalidRequest

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")


def image_size(data, param, max_bytes, max_pixels):
    """(width, height) of an uploaded PNG, JPEG or WebP file; InvalidRequest naming `param` otherwise."""
    if len(data) > max_bytes:
        raise InvalidRequest(
            f"'{param}' is {len(data)} bytes; this model takes files of at most {max_bytes}.",
            param=param,
            code="file_too_large",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                file_format, (width, height) = image.format, image.size
    except Exception:  # Pillow raises many types for files it can't read (UnidentifiedImageError, OSError...)
        raise InvalidRequest(
            f"'{param}' is not an image file this server reads (PNG, JPEG or WebP).", param=param, code="invalid_image"
        ) from None
    if file_format not in ACCEPTED_FORMATS:
        raise InvalidRequest(
            f"'{param}' is a {file_format} file; send PNG, JPEG or WebP.", param=param, code="invalid_image_format"
        )
    if width * height > max_pixels:
        raise InvalidRequest(
            f"'{param}' is {width}x{height} pixels; this model takes images of at most {max_pixels} pixels.",
            param=param,
            code="image_too_large",
        )
    return width, height
