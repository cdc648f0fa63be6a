"""The typed input and result of image generation and edits, between the protocol and the node.

The protocol layer turns OpenAI's JSON or form into an ImagesInput; an image-generation node answers
with an ImagesResult. Uploaded files travel as their bytes: the node checks their headers, the engine
process decodes them (a corrupt file is that request's 400, never the worker's CPU on the event loop).
"""

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ImagesInput:
    prompt: str
    n: int = 1
    width: Optional[int] = None  # None: the model's default size, or an edited image's own size
    height: Optional[int] = None
    output_format: str = "png"  # png, jpeg or webp
    seed: Optional[int] = None  # None: a fresh random seed
    num_inference_steps: Optional[int] = None  # None: the servable's default
    guidance_scale: Optional[float] = None
    negative_prompt: Optional[str] = None
    strength: Optional[float] = None  # edits: how much of the image is repainted (0..1)
    image: Optional[bytes] = None  # edits: the uploaded image file (PNG, JPEG, WebP)
    mask: Optional[bytes] = None  # edits: the mask file; transparent (or white, without alpha) is repainted
    request_id: str = ""


@dataclass(frozen=True)
class ImagesResult:
    images: tuple  # encoded files, in the requested output_format
    output_format: str
    width: int
    height: int
    steps: int  # denoising steps run per image (fewer than asked for edits: steps x strength)
    seed: int
