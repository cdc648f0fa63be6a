"""What crosses between the image-generation node and its engine. Pure: no OpenVINO here.

Uploads cross as the files the client sent and images come back encoded (PNG, JPEG or WebP): the
engine process decodes and encodes them with Pillow, off the HTTP worker's event loop, and a frame
of PNGs is a fraction of the raw RGB it stands for.
"""

from typing import Optional

from ovserve.runtime.messages import WireMessage, wire_message


@wire_message
class ImageJob(WireMessage):
    """Worker -> engine: generate `n` images from a prompt; with `image` (and `mask`), edit that image."""

    tag = "images.job"
    prompt: str
    n: int
    width: Optional[int]  # None: the model's default, or the edited image's own size
    height: Optional[int]
    num_inference_steps: int
    guidance_scale: Optional[float]
    seed: int
    negative_prompt: Optional[str]
    strength: Optional[float]
    image: Optional[bytes]
    mask: Optional[bytes]
    output_format: str


@wire_message
class GeneratedImages(WireMessage):
    """Engine -> worker: the encoded images of one job, in its order."""

    tag = "images.generated"
    images: tuple
    width: int
    height: int
    steps: int
