"""OpenAI's image routes: POST {prefix}/images/generations (JSON) and {prefix}/images/edits (a form)."""

import copy

from ovserve.http.openapi.components import ref
from ovserve.http.openapi.operations import post_operation

GENERATION_REQUEST = "ImageGenerationRequest"  # components/schemas name of protocol/schemas/images.json


def images_schemas(request_schemas):
    """The answer of both routes, and the edit form: the generation request's fields, plus the files."""
    form = copy.deepcopy(request_schemas[GENERATION_REQUEST])
    form["title"] = "POST /v3/images/edits form"
    form["description"] = (
        "OpenAI's image edit request, as multipart/form-data: `image` (and `mask`) are file parts, the other "
        "fields text parts (numbers as text). With a mask, the image is inpainted where the mask is transparent "
        "(white, for a mask without alpha); without one, the whole image is redrawn (image-to-image)."
    )
    form["required"] = ["model", "prompt", "image"]
    form["properties"]["image"] = {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "description": "The image to edit: one PNG, JPEG or WebP file (also accepted as `image[]`).",
    }
    form["properties"]["mask"] = {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "description": "A PNG of the image's size; its transparent pixels are repainted.",
    }
    return {
        "ImageEditRequest": form,
        "ImagesResponse": {
            "type": "object",
            "required": ["created", "data"],
            "properties": {
                "created": {"type": "integer"},
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["b64_json"],
                        "properties": {"b64_json": {"type": "string", "description": "The image file, base64."}},
                    },
                },
                "output_format": {"enum": ["png", "jpeg", "webp"]},
                "size": {"type": "string", "description": "WIDTHxHEIGHT of the images."},
                "seed": {"type": "integer", "description": "The seed the images were made with."},
                "num_inference_steps": {"type": "integer", "description": "Denoising steps run per image."},
            },
        },
    }


def images_paths(prefix, secured):
    generations = post_operation(
        "createImage", "Images from a prompt", "images", GENERATION_REQUEST, "ImagesResponse", secured, streams=False
    )
    edits = post_operation(
        "createImageEdit",
        "An uploaded image edited (image-to-image, or inpainting with a mask)",
        "images",
        "ImageEditRequest",
        "ImagesResponse",
        secured,
        streams=False,
    )
    edits["requestBody"]["content"] = {
        "multipart/form-data": {
            "schema": ref("ImageEditRequest"),
            "encoding": {"image": {"contentType": "image/png"}, "mask": {"contentType": "image/png"}},
        }
    }
    return {f"{prefix}/images/generations": {"post": generations}, f"{prefix}/images/edits": {"post": edits}}
