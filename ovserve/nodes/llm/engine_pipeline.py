"""The ContinuousBatchingPipeline built from the node's engine options, and what goes into it: each
request's GenerationConfig and the handles that start it.

Only the engine host's thread calls this, like everything that touches the pipeline.
"""

import numpy
import openvino
import openvino_genai

from ovserve.nodes.engine_errors import without_source_location
from ovserve.nodes.llm.engine_request import one_sequence
from ovserve.nodes.llm.output_constraints import build_config
from ovserve.runtime.engine import RequestRejected

WARM_UP_REQUEST_ID = 2**62  # far above the pipeline ids of requests, which count up from 1


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

    def add(self, prompt_ids, config):
        self.next_handle_id += 1
        input_ids = openvino.Tensor(numpy.array([prompt_ids], dtype=numpy.int64))
        return self.pipeline.add_request(self.next_handle_id, input_ids, config)

    def start(self, request, config=None):
        """Give a LiveRequest its handles: one, or one per sampled choice. `config`: the one already built
        for its settings, if any."""
        settings = request.settings
        request.expect_echo()
        if settings.num_return_sequences == 1:
            config = config or self.config(settings, request.schema)
            request.parts = [(self.add(request.prompt_ids, config), None)]
            return
        request.parts = [
            (self.add(request.prompt_ids, self.config(one_sequence(settings, index), request.schema)), {0: index})
            for index in range(settings.num_return_sequences)
        ]


def warm_up(pipeline, launcher):
    """One tiny generation before serving: the first inference compiles kernels and allocates the
    cache (measured: the first step after start took ~1.4 s), which the first client would pay."""
    config = openvino_genai.GenerationConfig()
    config.max_new_tokens = 2
    launcher.with_prompt_lookup(config)
    prompt = openvino.Tensor(numpy.array([[launcher.eos_token_id] * 8], dtype=numpy.int64))
    handle = pipeline.add_request(WARM_UP_REQUEST_ID, prompt, config)
    while pipeline.has_non_finished_requests():
        pipeline.step()
    while handle.can_read():
        handle.read()
    pipeline.step()  # let the metrics forget the warm-up request
