"""The image pipelines of one model, and one job run on them. Only the generation thread calls run_job.

One InpaintingPipeline is loaded; the Image2Image and Text2Image pipelines are built from it and share
its compiled models (their constructors from another pipeline), so edits cost no second copy of the
weights. A model family without inpainting falls back to Image2Image (edits without a mask), then to
Text2Image alone (no edits).
"""

import logging

import numpy
import openvino
import openvino_genai

from ovserve.nodes.image_generation import codec

log = logging.getLogger("ovserve.engine.images")


class ImagePipelines:
    def __init__(self, models_path, device, plugin_config, edits):
        self.inpainting = self.image_to_image = None
        if edits:
            self._load_editing(models_path, device, plugin_config)
        if self.image_to_image is not None:
            self.text_to_image = openvino_genai.Text2ImagePipeline(self.image_to_image)
        else:
            self.text_to_image = openvino_genai.Text2ImagePipeline(models_path, device, **plugin_config)
        self.defaults = self.text_to_image.get_generation_config()

    def _load_editing(self, models_path, device, plugin_config):
        try:
            self.inpainting = openvino_genai.InpaintingPipeline(models_path, device, **plugin_config)
            self.image_to_image = openvino_genai.Image2ImagePipeline(self.inpainting)
            return
        except Exception as exc:
            log.warning("no inpainting for this model (%s); trying image-to-image", exc)
        try:
            self.image_to_image = openvino_genai.Image2ImagePipeline(models_path, device, **plugin_config)
        except Exception as exc:
            log.warning("no image-to-image for this model (%s); serving generations only", exc)

    def info(self):
        return {
            "default_width": self.defaults.width,
            "default_height": self.defaults.height,
            "default_steps": self.defaults.num_inference_steps,
            "default_guidance_scale": self.defaults.guidance_scale,
            "default_strength": self.defaults.strength,
            "edits": self.image_to_image is not None,
            "inpainting": self.inpainting is not None,
        }


def steps_run(pipeline):
    """The denoising steps the pipeline's last generate call ran, as it timed them. Not the step callback's
    count: genai runs the callback on a thread of its own and drops the steps still queued for it when
    the generation ends, so a fast generation's last callbacks may never come."""
    return len(pipeline.get_performance_metrics().raw_metrics.iteration_durations)


def _pixels(output):
    """A generate call's images as (n, height, width, 3) uint8, or None: a stopped generation gives none."""
    pixels = numpy.asarray(output.data)
    return pixels if pixels.ndim == 4 and pixels.shape[0] > 0 else None


def run_job(pipelines, job, callback):
    """The job's pixels, (n, height, width, 3) uint8, and the steps run per image; pixels None when
    `callback` stopped it."""
    settings = {"num_images_per_prompt": job.n, "num_inference_steps": job.num_inference_steps, "rng_seed": job.seed}
    if job.guidance_scale is not None:
        settings["guidance_scale"] = job.guidance_scale
    if job.negative_prompt is not None:
        settings["negative_prompt"] = job.negative_prompt
    if job.image is None:
        if job.width is not None:
            settings.update(width=job.width, height=job.height)
        pipeline = pipelines.text_to_image
        output = pipeline.generate(job.prompt, callback=callback, **settings)
    else:
        image, mask = codec.decode_edit(job.image, job.mask, (job.width, job.height))
        if job.strength is not None:
            settings["strength"] = job.strength
        if mask is not None:
            return _inpaint_one_by_one(pipelines.inpainting, job, image, mask, callback, settings)
        pipeline = pipelines.image_to_image
        output = pipeline.generate(job.prompt, openvino.Tensor(image), callback=callback, **settings)
    return _pixels(output), steps_run(pipeline)


def _inpaint_one_by_one(pipeline, job, image, mask, callback, settings):
    """Inpainting's images, one call each with seeds seed, seed+1, ...: InpaintingPipeline (2026.4) fails
    num_images_per_prompt > 1 ("Shapes for current[2,4,32,32]and initial image latents [1,4,32,32] must
    match"), so the n images of a request are made in turn."""
    frames = []
    for index in range(job.n):
        settings = dict(settings, num_images_per_prompt=1, rng_seed=job.seed + index)
        output = pipeline.generate(
            job.prompt, openvino.Tensor(image), openvino.Tensor(mask), callback=callback, **settings
        )
        pixels = _pixels(output)
        if pixels is None:
            return None, steps_run(pipeline)  # stopped by the callback
        frames.append(pixels)
    return numpy.concatenate(frames), steps_run(pipeline)
