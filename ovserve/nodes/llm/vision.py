"""Images in chat, for the LLM node serving a vision-language model (VLM) folder.

A VLM folder is what `ovserve export --task image_text_to_text` (optimum-intel's image-text-to-text)
writes: the language model, the text and vision embedding models and the tokenizers, which
`ContinuousBatchingPipeline` loads as one pipeline taking images with each request.

In the worker this module checks a request's images (how many, where they come from), fetches and
decodes them off the event loop, and places them in the prompt. A VLM's own chat template writes its
model's placeholder for each {"type": "image"} part (LLaVA's `<image>`, Qwen2-VL's vision tokens), which
the pipeline matches to the images in order and expands to as many image tokens as the model's
processor makes. A template that knows no images gets each image's place as openvino_genai's universal
tag (`<ov_genai_image_N>`, N counting the request's images from 0), which the pipeline replaces by the
model's placeholder: any chat template works.
"""

import json
import re
from pathlib import Path

from ovserve.errors import InvalidRequest, UnsupportedByModel
from ovserve.media.decoding import ImageLimits, decode_image
from ovserve.media.sources import MediaPolicy, read_image_source
from ovserve.runtime.off_loop import run_off_loop

VISION_IR_FILES = (
    "openvino_language_model.xml",
    "openvino_text_embeddings_model.xml",
    "openvino_vision_embeddings_model.xml",
    "openvino_tokenizer.xml",
    "openvino_detokenizer.xml",
)
IMAGE_TAG = "<ov_genai_image_{}>"
IMAGE_TAG_PATTERN = re.compile(r"<ov_genai_image_(\d+)>")


def is_vision_folder(path):
    path = Path(path)
    return (path / "openvino_vision_embeddings_model.xml").is_file() and (
        path / "openvino_language_model.xml"
    ).is_file()


def refuse_images(chat_input, servable):
    """A text-only model given images: a 400 naming the first."""
    if chat_input.images:
        raise UnsupportedByModel(
            f"Model '{servable}' takes text only; it can't read images.",
            param=chat_input.images[0].param,
            code="unsupported_model_capability",
        )


def template_places_images(source):
    """Whether a chat template writes image parts itself (the model's own placeholder: LLaVA's `<image>`,
    Qwen2-VL's vision tokens), as VLM templates do from {"type": "image"} parts; the pipeline then matches
    those placeholders to the images in order. Other templates get the images as universal tags."""
    return "'image'" in source or '"image"' in source


def with_image_tags(messages):
    """The messages with each image part written as its tag, in order (content back to plain text)."""
    tagged, count = [], 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            pieces = []
            for part in content:
                if part.get("type") == "image":
                    pieces.append(IMAGE_TAG.format(count))
                    count += 1
                else:
                    pieces.append(part.get("text", ""))
            message = {**message, "content": "\n".join(pieces)}
        tagged.append(message)
    return tagged


def image_token_facts(models_path):
    """(image token id, tokens an image) from the model's config.json where it states them (LLaVA:
    image_seq_length, or (image size / patch size)^2), else (None, None): the worker's prompt count then
    leaves the images out (the engine counts what it runs)."""
    config_file = Path(models_path) / "config.json"
    if not config_file.is_file():
        return None, None
    config = json.loads(config_file.read_text())
    token_id = config.get("image_token_id", config.get("image_token_index"))
    per_image = config.get("image_seq_length")
    vision = config.get("vision_config") or {}
    if per_image is None and config.get("model_type") == "llava" and vision.get("image_size"):
        per_image = (vision["image_size"] // vision.get("patch_size", 14)) ** 2
    return token_id, per_image


class VisionInputs:
    """A servable's image policy (limits, allowed sources) and the loading of a request's images."""

    def __init__(self, options, context):
        local = options.get("allowed_local_media_path")
        if local is not None:
            local = context.resolve_path("allowed_local_media_path", local).resolve()
        self.limits = ImageLimits.from_options(options)
        self.policy = MediaPolicy(
            tuple(domain.lower() for domain in options["allowed_media_domains"]),
            local,
            float(options["media_fetch_timeout_seconds"]),
            options["max_image_bytes"],
        )

    def check_count(self, images):
        if len(images) > self.limits.max_images:
            raise InvalidRequest(
                f"The request has {len(images)} images; this model takes at most {self.limits.max_images}.",
                param=images[self.limits.max_images].param,
                code="too_many_images",
            )

    def load(self, images):
        """The request's ImageParts -> ((width, height, RGB bytes), ...) as GenerationRequest carries them."""
        self.check_count(images)
        loaded = []
        for image in images:
            result = run_off_loop(self._load_one, image)
            if isinstance(result, InvalidRequest):
                raise result
            loaded.append(result)
        return tuple(loaded)

    def _load_one(self, image):
        # A refusal is returned, not raised: gevent's pool would log every bad image's traceback.
        try:
            data = read_image_source(image.url, self.policy, image.param)
            decoded = decode_image(data, self.limits, image.param)
        except InvalidRequest as refusal:
            return refusal
        return decoded.width, decoded.height, decoded.data
