"""Image bytes -> RGB pixels, with Pillow, within limits.

The pixels leave as an `RgbImage`: raw bytes, row after row, 3 bytes (R, G, B) a pixel, height x width.
That is the layout openvino_genai's VLM pipelines take, as a uint8 tensor of shape [1, H, W, 3] (NHWC,
RGB; `ovserve/nodes/llm/engine_pipeline.py` makes it), and a plain value that crosses to the engine
process without Pillow. The model's own processor resizes and normalises inside the pipeline, so
nothing here resizes.
"""

import io
import warnings
from dataclasses import dataclass

from ovserve.errors import InvalidRequest

# Formats Pillow names, as the APIs document them (png, jpeg, webp, gif: its first frame).
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "GIF": "gif"}


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 16 * 1024 * 1024  # width x height
    max_images: int = 8  # per request

    @classmethod
    def from_options(cls, options):
        """From a node's options (max_image_bytes, max_image_pixels, max_images)."""
        return cls(options["max_image_bytes"], options["max_image_pixels"], options["max_images"])


@dataclass(frozen=True)
class RgbImage:
    """Decoded pixels: `data` is height x width x 3 bytes (RGB, rows top to bottom)."""

    width: int
    height: int
    data: bytes


def check_size(data, limits, param):
    if len(data) > limits.max_bytes:
        raise InvalidRequest(
            f"The image is {len(data)} bytes; this model takes at most {limits.max_bytes}.",
            param=param,
            code="image_too_large",
        )


def decode_image(data, limits, param):
    """`data` (an encoded image) -> RgbImage; InvalidRequest naming `param` for anything wrong with it."""
    from PIL import Image, UnidentifiedImageError

    check_size(data, limits, param)
    with warnings.catch_warnings():
        # Pillow warns (DecompressionBombWarning) above its own bound; ours is checked below, before decoding.
        warnings.simplefilter("ignore")
        try:
            image = Image.open(io.BytesIO(data))
        except (UnidentifiedImageError, OSError, ValueError):
            raise InvalidRequest(
                "The image could not be decoded; send a png, jpeg, webp or gif.", param=param, code="invalid_image"
            ) from None
        except Image.DecompressionBombError:
            raise _too_many_pixels(None, limits, param) from None
        if image.format not in ACCEPTED_FORMATS:
            raise InvalidRequest(
                f"Image format '{image.format}' is not supported; send a png, jpeg, webp or gif.",
                param=param,
                code="unsupported_image_format",
            )
        width, height = image.size
        if width * height > limits.max_pixels:
            raise _too_many_pixels(f"{width}x{height}", limits, param)
        try:
            image.seek(0)  # an animated gif or webp: its first frame
            rgb = image.convert("RGB")
            rgb.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise InvalidRequest("The image is truncated or corrupt.", param=param, code="invalid_image") from None
    return RgbImage(width, height, rgb.tobytes())


def _too_many_pixels(size, limits, param):
    described = f"The image is {size}" if size else "The image is too large"
    return InvalidRequest(
        f"{described}; this model takes at most {limits.max_pixels} pixels (width x height).",
        param=param,
        code="image_too_large",
    )
