"""The worker side of the image-generation node: each request's limits, its size and seed, then the engine.

The pipelines live in an engine process (engine.py); this node checks a request against the servable's
limits (each a 400 naming the field), reads the headers of uploaded images (uploads.py), picks the seed
of a request without one, and submits the job. The engine answers with the encoded images.
"""

import json
import logging
import random
from pathlib import Path

from ovserve.errors import InvalidRequest
from ovserve.graph.images import ImagesResult
from ovserve.graph.node import ImageGenerator
from ovserve.nodes.engine_node import EngineNode, load_schema
from ovserve.nodes.image_generation.messages import ImageJob
from ovserve.nodes.image_generation.uploads import image_size
from ovserve.nodes.unary import EngineResult

log = logging.getLogger("ovserve.images")
OPTIONS_SCHEMA = load_schema("ovserve.nodes.image_generation")
MAX_SEED = 2**32 - 1


def _trained_timesteps(models_path):
    """The scheduler's num_train_timesteps: the pipelines refuse more inference steps than that."""
    try:
        config = json.loads((Path(models_path) / "scheduler" / "scheduler_config.json").read_text())
        return int(config.get("num_train_timesteps") or 1000)
    except (OSError, ValueError, TypeError):
        return 1000


class ImageGenerationNode(EngineNode, ImageGenerator):
    type_name = "image_generation"
    options_schema = OPTIONS_SCHEMA
    engine_factory = "ovserve.nodes.image_generation.engine:ImageGenerationEngine"
    engine_option_names = ("device", "plugin_config", "edits", "max_queued_requests")

    def __init__(self, options, context):
        super().__init__(options, context)
        if not (Path(self.models_path) / "model_index.json").is_file():
            raise context.error(
                "models_path",
                f"{self.models_path} is not a diffusers model folder (no model_index.json)",
                "convert the model with `ovserve export SOURCE --task text_to_image`",
            )
        self.max_steps = min(self.options["max_num_inference_steps"], _trained_timesteps(self.models_path))
        self.capabilities = ("images.generations", "images.edits") if self.options["edits"] else ("images.generations",)

    @property
    def engine_facts(self):
        """What the engine measured of its model (default size and steps, edits), once it connected."""
        info = self.client.info if self.client is not None else None
        return info or {}

    def describe(self):
        facts = self.engine_facts
        described = {
            "max_n": self.options["max_n"],
            "max_width": self.options["max_width"],
            "max_height": self.options["max_height"],
            "max_num_inference_steps": self.max_steps,
            "edits": self.options["edits"] and facts.get("edits", True),
        }
        if facts:
            described["default_size"] = f"{facts['default_width']}x{facts['default_height']}"
            described["default_num_inference_steps"] = self._default_steps()
            described["inpainting"] = facts["inpainting"]
        return described

    def _default_steps(self):
        return self.options["default_num_inference_steps"] or self.engine_facts.get("default_steps") or 50

    # --- checks ----------------------------------------------------------------------------
    def _check_limits(self, images_input):
        options = self.options
        if images_input.n > options["max_n"]:
            raise InvalidRequest(
                f"'n' is {images_input.n}; this model makes at most {options['max_n']} images a request.",
                param="n",
                code="invalid_value",
            )
        steps = images_input.num_inference_steps or self._default_steps()
        if steps > self.max_steps:
            raise InvalidRequest(
                f"'num_inference_steps' is {steps}; this model runs at most {self.max_steps}.",
                param="num_inference_steps",
                code="invalid_value",
            )
        if images_input.guidance_scale is not None and images_input.guidance_scale > options["max_guidance_scale"]:
            raise InvalidRequest(
                f"'guidance_scale' is {images_input.guidance_scale}; at most {options['max_guidance_scale']}.",
                param="guidance_scale",
                code="invalid_value",
            )
        guidance = images_input.guidance_scale
        if guidance is None:
            guidance = self.engine_facts.get("default_guidance_scale", 7.5)
        if images_input.negative_prompt is not None and guidance <= 1:
            # The pipelines refuse it ("Guidance scale <= 1.0 ignores negative prompt").
            raise InvalidRequest(
                f"'negative_prompt' needs a guidance_scale above 1 (it is {guidance}): without guidance it is ignored.",
                param="negative_prompt",
                code="invalid_value",
            )
        if images_input.width is not None:
            self._check_size(images_input.width, images_input.height, "size")
        return steps

    def _check_strength(self, images_input, steps):
        """An edit runs int(steps x strength) steps; the pipelines refuse fewer than one."""
        strength = images_input.strength
        if strength is None:
            strength = self.engine_facts.get("default_strength", 1.0)
        if int(steps * strength) < 1:
            raise InvalidRequest(
                f"'strength' {strength} of {steps} steps runs no denoising step; raise it or num_inference_steps.",
                param="strength",
                code="invalid_value",
            )

    def _check_size(self, width, height, param):
        options = self.options
        multiple = options["size_multiple"]
        if width > options["max_width"] or height > options["max_height"]:
            raise InvalidRequest(
                f"'{param}' is {width}x{height}; this model makes images of at most "
                f"{options['max_width']}x{options['max_height']}.",
                param=param,
                code="invalid_value",
            )
        if width % multiple or height % multiple or width < multiple or height < multiple:
            raise InvalidRequest(
                f"'{param}' is {width}x{height}; width and height must be multiples of {multiple}.",
                param=param,
                code="invalid_value",
            )

    def _edit_size(self, images_input):
        """The output size of an edit, and the checked headers of its image and mask."""
        limits = (self.options["max_upload_bytes"], self.options["max_upload_pixels"])
        width, height = image_size(images_input.image, "image", *limits)
        if images_input.mask is not None:
            if not self.engine_facts.get("inpainting", True):
                raise InvalidRequest(
                    "'mask' can't be used: this model has no inpainting; send the image alone to vary it.",
                    param="mask",
                    code="unsupported_value",
                )
            mask_size = image_size(images_input.mask, "mask", *limits)
            if mask_size != (width, height):
                raise InvalidRequest(
                    f"'mask' is {mask_size[0]}x{mask_size[1]}; it must be the size of 'image' ({width}x{height}).",
                    param="mask",
                    code="invalid_value",
                )
        if images_input.width is not None:
            return images_input.width, images_input.height
        multiple = self.options["size_multiple"]
        width, height = width - width % multiple, height - height % multiple
        self._check_size(width, height, "image")
        return width, height

    # --- requests --------------------------------------------------------------------------
    def _submit(self, images_input, steps, width, height):
        seed = images_input.seed if images_input.seed is not None else random.randint(0, MAX_SEED)
        job = ImageJob(
            images_input.prompt,
            images_input.n,
            width,
            height,
            steps,
            images_input.guidance_scale,
            seed,
            images_input.negative_prompt,
            images_input.strength,
            images_input.image,
            images_input.mask,
            images_input.output_format,
        )
        stream = self.client.submit(job, timeout=self.options["request_timeout_seconds"])

        def convert(generated):
            return ImagesResult(
                generated.images, images_input.output_format, generated.width, generated.height, generated.steps, seed
            )

        return EngineResult(stream, convert)

    def generate_images(self, images_input):
        self.require_ready()
        steps = self._check_limits(images_input)
        return self._submit(images_input, steps, images_input.width, images_input.height)

    def edit_images(self, images_input):
        self.require_ready()
        if not self.engine_facts.get("edits", True):
            raise InvalidRequest(
                "This model can't edit images (its family has no image-to-image pipeline).",
                param="image",
                code="unsupported_value",
            )
        steps = self._check_limits(images_input)
        self._check_strength(images_input, steps)
        width, height = self._edit_size(images_input)
        return self._submit(images_input, steps, width, height)
