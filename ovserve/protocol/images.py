"""OpenAI's image generation and edits: POST /v3/images/generations (JSON) and /v3/images/edits (a form).

Both become an ImagesInput for the servable's image-generation node and come back as OpenAI's
ImagesResponse, each image base64-encoded (`b64_json`). `url` is refused with a 400 naming the field:
this server keeps no files to link to. ovserve's extensions (seed, num_inference_steps,
guidance_scale, negative_prompt; strength for edits) are bounded by the node's options.
"""

import base64
import math
import time

from ovserve.errors import InvalidRequest
from ovserve.graph.images import ImagesInput
from ovserve.graph.servable import Servable
from ovserve.protocol.api import Api, Call
from ovserve.protocol.validation import validate_body

# The edit form's fields that are numbers (a form sends text), and their type.
FORM_NUMBERS = {"n": int, "seed": int, "num_inference_steps": int, "guidance_scale": float, "strength": float}


def _size(body):
    size = body.get("size")
    if size in (None, "auto"):
        return None, None
    width, _, height = size.partition("x")
    return int(width), int(height)


def _images_input(body, request_id, image=None, mask=None):
    if body.get("response_format") == "url":
        raise InvalidRequest(
            "'response_format' url is not supported: this server keeps no images to link to; use b64_json.",
            param="response_format",
            code="unsupported_value",
        )
    width, height = _size(body)
    return ImagesInput(
        prompt=body["prompt"],
        n=body.get("n") or 1,
        width=width,
        height=height,
        output_format=body.get("output_format") or "png",
        seed=body.get("seed"),
        num_inference_steps=body.get("num_inference_steps"),
        guidance_scale=body.get("guidance_scale"),
        negative_prompt=body.get("negative_prompt") or None,  # "" asks for nothing
        strength=body.get("strength"),
        image=image,
        mask=mask,
        request_id=request_id,
    )


class ImagesWriter:
    """OpenAI's ImagesResponse for one request's images, with the seed they were made with."""

    def body(self, result):
        return {
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(image).decode("ascii")} for image in result.images],
            "output_format": result.output_format,
            "size": f"{result.width}x{result.height}",
            "seed": result.seed,
            "num_inference_steps": result.steps,
        }


def parse_generation(body, request_id=""):
    validate_body("images", body)
    if body.get("strength") is not None:
        raise InvalidRequest(
            "'strength' applies to edits only (POST /v3/images/edits).", param="strength", code="invalid_value"
        )
    return Call(body["model"], _images_input(body, request_id), ImagesWriter())


def _form_fields(form):
    """The form's text fields, numbers converted, as a body for the JSON Schema."""
    fields = form.fields()
    for name, kind in FORM_NUMBERS.items():
        value = fields.get(name)
        if isinstance(value, str):
            try:
                fields[name] = kind(value)
            except ValueError:
                expected = "an integer" if kind is int else "a number"
                raise InvalidRequest(
                    f"'{name}' must be {expected}, got {value[:40]!r}.", param=name, code="invalid_value"
                ) from None
            if not math.isfinite(fields[name]):
                raise InvalidRequest(f"'{name}' must be a finite number.", param=name, code="invalid_value")
    return fields


def parse_edit(form, request_id=""):
    images = form.files("image")
    if not images:
        form.file("image")  # raises: missing, or sent as a text field
    if len(images) > 1:
        raise InvalidRequest(
            f"'image' has {len(images)} files; this server edits one image a request.",
            param="image",
            code="invalid_value",
        )
    mask = form.file("mask", required=False)
    body = _form_fields(form)
    validate_body("images", body)
    images_input = _images_input(body, request_id, images[0].data, None if mask is None else mask.data)
    return Call(body["model"], images_input, ImagesWriter())


IMAGE_GENERATIONS = Api("images.generations", parse_generation, Servable.generate_images)
IMAGE_EDITS = Api("images.edits", parse_edit, Servable.edit_images, reads_form=True)
