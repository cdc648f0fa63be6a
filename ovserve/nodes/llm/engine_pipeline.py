"""The ContinuousBatchingPipeline built from the node's engine options, and what goes into it: each
request's GenerationConfig and the handles that start it.

Only the engine host's thread calls this, like everything that touches the pipeline.
"""

from dataclasses import dataclass

import numpy
import openvino
import openvino_genai

from ovserve.nodes.engine_errors import without_source_location
from ovserve.nodes.llm.engine_request import one_sequence
from ovserve.nodes.llm.output_constraints import build_config
from ovserve.runtime.engine import RequestRejected

WARM_UP_REQUEST_ID = 2**62  # far above the pipeline ids of requests, which count up from 1


@dataclass(frozen=True)
class VisionPrompt:
    """What a vision-language pipeline runs for a request: the templated text, with openvino_genai's
    image tags, and one tensor an image (none for a text-only request). Such a pipeline takes text only:
    its language model has no input_ids port (measured: a token-id request fails "Port for tensor name
    input_ids was not found")."""

    text: str
    tensors: tuple

    @classmethod
    def of(cls, request):
        """The VisionPrompt of a GenerationRequest with a prompt text (sent to a vision-language model
        only), else None. Each image is (width, height, RGB bytes), made a uint8 tensor [1, H, W, 3] (NHWC,
        RGB): the layout the pipeline takes (see ovserve/media/decoding.py)."""
        if request.prompt_text is None:
            return None
        tensors = tuple(
            openvino.Tensor(numpy.frombuffer(data, dtype=numpy.uint8).reshape(1, height, width, 3))
            for width, height, data in request.images
        )
        return cls(request.prompt_text, tensors)


def scheduler_config(options):
    config = openvino_genai.SchedulerConfig()
    config.cache_size = options["cache_size"]
    config.max_num_seqs = options["max_num_seqs"]
    config.max_num_batched_tokens = options["max_num_batched_tokens"]
    config.dynamic_split_fuse = options["dynamic_split_fuse"]
    config.enable_prefix_caching = options["enable_prefix_caching"]
    return config


def generation_config(settings):
    """A GenerationConfig with the given fields of `settings` (a GenerationSettings, checked by the worker)."""
    config = openvino_genai.GenerationConfig()
    for name, value in settings.given():
        setattr(config, name, set(value) if name == "stop_token_ids" else value)
    return config


def open_pipeline(options):
    """The pipeline, and prompt lookup's (num_assistant_tokens, max_ngram_size) or None."""
    properties = {key: str(value) for key, value in options.get("plugin_config", {}).items()}
    # Prompt lookup is a pipeline of its own, chosen by this property (a real bool); it refuses every
    # request that lacks num_assistant_tokens and max_ngram_size, the warm-up included (measured).
    prompt_lookup = None
    if options.get("prompt_lookup"):
        properties["prompt_lookup"] = True
        prompt_lookup = (options["num_assistant_tokens"], options["max_ngram_size"])
    pipeline = openvino_genai.ContinuousBatchingPipeline(
        options["models_path"], scheduler_config(options), options["device"], properties
    )
    return pipeline, prompt_lookup


class RequestLauncher:
    """Puts requests into the pipeline: the GenerationConfig of their settings, and a handle per sequence
    that streams on its own."""

    def __init__(self, pipeline, eos_token_id, prompt_lookup=None):
        self.pipeline = pipeline
        self.eos_token_id = eos_token_id
        self.prompt_lookup = prompt_lookup
        self.next_handle_id = 0

    def with_prompt_lookup(self, config):
        if self.prompt_lookup:
            config.num_assistant_tokens, config.max_ngram_size = self.prompt_lookup
        return config

    def config(self, settings, schema):
        """The GenerationConfig of `settings` constrained by `schema`; RequestRejected if the pipeline
        would refuse it."""
        config = self.with_prompt_lookup(generation_config(settings))
        if not config.ignore_eos:
            config.set_eos_token_id(self.eos_token_id)
        if schema is not None:
            try:
                config.structured_output_config = build_config(schema)
            except Exception as exc:
                raise RequestRejected(
                    f"invalid structured output constraint: {without_source_location(str(exc))}",
                    param="response_format",
                ) from None
        try:
            config.validate()
        except Exception as exc:
            raise RequestRejected(without_source_location(str(exc))) from None
        return config

    def add(self, prompt_ids, config, vision=None):
        self.next_handle_id += 1
        if vision is not None:
            # The worker rendered the chat template already; the pipeline would wrap the text in it again.
            config.apply_chat_template = False
            try:
                return self.pipeline.add_request(self.next_handle_id, vision.text, list(vision.tensors), config)
            except RuntimeError as exc:
                # The text's own image placeholders (a user who typed "<image>") outnumber the images: the
                # pipeline can't tell which is which.
                raise RequestRejected(without_source_location(str(exc)), param="messages") from None
        input_ids = openvino.Tensor(numpy.array([prompt_ids], dtype=numpy.int64))
        return self.pipeline.add_request(self.next_handle_id, input_ids, config)

    def start(self, request, config=None):
        """Give a LiveRequest its handles: one, or one per sampled choice. `config`: the one already built
        for its settings, if any."""
        settings = request.settings
        request.expect_echo()
        if settings.num_return_sequences == 1:
            config = config or self.config(settings, request.schema)
            request.parts = [(self.add(request.prompt_ids, config, request.vision), None)]
            return
        request.parts = [
            (
                self.add(
                    request.prompt_ids, self.config(one_sequence(settings, index), request.schema), request.vision
                ),
                {0: index},
            )
            for index in range(settings.num_return_sequences)
        ]


def warm_up(pipeline, launcher, vision=False):
    """One tiny generation before serving: the first inference compiles kernels and allocates the
    cache (measured: the first step after start took ~1.4 s), which the first client would pay."""
    config = openvino_genai.GenerationConfig()
    config.max_new_tokens = 2
    launcher.with_prompt_lookup(config)
    if vision:  # a vision-language pipeline takes text (VisionPrompt)
        config.apply_chat_template = False
        handle = pipeline.add_request(WARM_UP_REQUEST_ID, "warm up " * 4, [], config)
    else:
        prompt = openvino.Tensor(numpy.array([[launcher.eos_token_id] * 8], dtype=numpy.int64))
        handle = pipeline.add_request(WARM_UP_REQUEST_ID, prompt, config)
    while pipeline.has_non_finished_requests():
        pipeline.step()
    while handle.can_read():
        handle.read()
    pipeline.step()  # let the metrics forget the warm-up request
