"""The LLM node: what a chat or completion request becomes before the engine, and its answer after.

The pipeline itself lives in an engine process (engine.py, runtime/engine_host.py). In the worker, each
job has its module: chat_prompt.py renders the chat template and decides how to read tool calls,
tokenizer.py turns the prompt into token ids (and ids back into text), limits.py checks what the request
asks against the servable's bounds, generation_defaults.py fills what it omits, messages.py is what goes
to the engine, generation.py turns the engine's token ids into the answer's text.
"""

import json
import logging
from functools import partial

from ovserve.errors import InvalidRequest
from ovserve.graph.node import TextGenerator
from ovserve.nodes import model_files
from ovserve.nodes.engine_node import EngineNode, load_schema
from ovserve.nodes.llm import output_parsing
from ovserve.nodes.llm.chat_prompt import ChatPrompts, plain_output
from ovserve.nodes.llm.chat_template import DEFAULT_CHAT_TEMPLATE, ChatTemplate, TemplateError
from ovserve.nodes.llm.generation import ChoiceSettings, LLMGeneration
from ovserve.nodes.llm.generation_defaults import GenerationDefaults
from ovserve.nodes.llm.limits import GenerationLimits
from ovserve.nodes.llm.messages import GenerationRequest, generation_settings
from ovserve.nodes.llm.output_constraints import response_format_spec, spec_text
from ovserve.nodes.llm.prompt_logprobs import PromptScoring, check_scorable, listing_special_tokens, scoring_param
from ovserve.nodes.llm.schema_guard import SchemaLimits, check_schema
from ovserve.nodes.llm.tokenizer import LLMTokenizer
from ovserve.nodes.llm.vision import (
    IMAGE_TAG,
    IMAGE_TAG_PATTERN,
    VISION_IR_FILES,
    VisionInputs,
    image_token_facts,
    is_vision_folder,
    refuse_images,
    template_places_images,
    with_image_tags,
)

log = logging.getLogger("ovserve.llm")
OPTIONS_SCHEMA = load_schema("ovserve.nodes.llm")
# Batch-invariant numerics (measured: see docs/performance.md): f32 and no dynamic quantization.
DETERMINISTIC_PLUGIN_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}


class ContinuousBatchingLLMNode(EngineNode, TextGenerator):
    type_name = "llm_continuous_batching"
    options_schema = OPTIONS_SCHEMA
    capabilities = ("chat.completions", "completions", "tokenize")
    engine_factory = "ovserve.nodes.llm.engine:ContinuousBatchingEngine"
    engine_option_names = (
        "device",
        "cache_size",
        "max_num_seqs",
        "max_num_batched_tokens",
        "dynamic_split_fuse",
        "enable_prefix_caching",
        "plugin_config",
        "max_queued_requests",
        "prompt_lookup",
        "num_assistant_tokens",
        "max_ngram_size",
    )

    def __init__(self, options, context):
        super().__init__(options, context)
        self._check_model_files()
        if "prompt_lookup" in self.options["plugin_config"]:
            # The engine property would switch the pipeline without the per-request settings it requires.
            raise context.error(
                "plugin_config",
                "prompt_lookup is a node option here, not a plugin property",
                'set "prompt_lookup": true beside plugin_config',
            )
        self.max_model_len = self.options.get("max_model_len") or model_files.context_length(self.models_path)
        if not self.max_model_len:
            raise context.error("max_model_len", "the model files don't state a context length", "set max_model_len")
        self.generation_defaults = self._generation_defaults()
        self.limits = GenerationLimits(
            self.max_model_len,
            self.options.get("max_tokens_limit"),
            self.generation_defaults.max_tokens,
            self.options["max_n"],
            self.options["prompt_lookup"],
        )
        self.schema_limits = SchemaLimits.from_options(self.options["structured_output_limits"])
        self.template_override = self._template_override()
        # A vision-language model's folder: requests may carry images (vision.py).
        self.vision = VisionInputs(self.options, context) if is_vision_folder(self.models_path) else None
        self.image_tokens = image_token_facts(self.models_path) if self.vision else (None, None)
        self.tokenizer = None  # an LLMTokenizer, once loaded
        self.prompts = None  # ChatPrompts, once the chat template is known
        self.parsing = None  # OutputParsing, chosen from the options and the chat template

    def _check_model_files(self):
        if not (model_files.is_gguf(self.models_path) or self.models_path.is_dir()):
            raise self.context.error("models_path", f"{self.models_path} is neither a .gguf file nor a model folder")
        if self.models_path.is_dir():
            expected = VISION_IR_FILES if is_vision_folder(self.models_path) else model_files.LLM_IR_FILES
            missing = model_files.missing_ir_files(self.models_path, expected)
            if missing:
                raise self.context.error(
                    "models_path",
                    f"the OpenVINO IR folder {self.models_path} lacks {', '.join(missing)}",
                    "export it with `ovserve export` or optimum-cli (with its tokenizer and detokenizer)",
                )

    def _generation_defaults(self):
        options, limit = self.options["generation_defaults"], self.options.get("max_tokens_limit")
        if limit and options.get("max_tokens", 0) > limit:
            raise self.context.error(
                "generation_defaults.max_tokens",
                f"{options['max_tokens']} is above max_tokens_limit ({limit})",
                "lower it, or raise max_tokens_limit",
            )
        option_schemas = OPTIONS_SCHEMA["properties"]["generation_defaults"]["properties"]
        try:
            return GenerationDefaults.for_model(options, self.models_path, option_schemas, limit)
        except ValueError as exc:
            raise self.context.error("models_path", str(exc)) from None

    def _template_override(self):
        value = self.options.get("chat_template")
        if value is None:
            file = model_files.template_file_next_to(self.models_path)
            return file.read_text() if file else None
        if "{" not in value:  # not template text: a file name
            return self.context.resolve_path("chat_template", value).read_text()
        try:
            ChatTemplate(value)
        except TemplateError as exc:
            raise self.context.error("chat_template", str(exc)) from None
        return value

    # --- life cycle ------------------------------------------------------------------------
    def engine_options(self):
        options = super().engine_options()
        if self.options["deterministic"]:
            options["plugin_config"] = {**DETERMINISTIC_PLUGIN_CONFIG, **options["plugin_config"]}
        return options

    def load_would_pause_worker(self):
        return not LLMTokenizer.is_loaded(self.models_path)  # the model's tokenizer: seconds holding the GIL

    def load_worker_side(self):
        tokenizer = LLMTokenizer.load(self.models_path, self.max_model_len, model_files.is_gguf(self.models_path))
        source = self.template_override or tokenizer.chat_template or DEFAULT_CHAT_TEMPLATE
        template = ChatTemplate(source, tokenizer.special_tokens)
        self.parsing = output_parsing.resolve(self.options["tool_parser"], self.options["reasoning_parser"], template)
        log.info("servable %s: %s", self.context.servable, self.parsing.log_line())
        self.prompts = ChatPrompts(template, self.parsing, self.schema_limits)
        self.tokenizer = tokenizer

    def describe(self):
        described = {"max_model_len": self.max_model_len, "generation_defaults": self.generation_defaults.describe()}
        if self.vision is not None:
            described["input_modalities"] = ["text", "image"]
        if self.parsing is not None:
            described.update(self.parsing.describe())
        return described

    # --- requests --------------------------------------------------------------------------
    def chat(self, chat_input):
        self.require_ready()
        if self.vision is None and not chat_input.images:
            prompt = self.prompts.prepare(chat_input)
            prompt_ids = self.tokenizer.encode(prompt.text, add_special_tokens=False)
            return self._generate(prompt_ids, chat_input.params, prompt.new_output, prompt.structured_output)
        prompt = self._prompt_with_images(chat_input)
        images = self.vision.load(chat_input.images)
        return self._generate(
            self._ids_with_images(prompt.text),
            chat_input.params,
            prompt.new_output,
            prompt.structured_output,
            vision=(prompt.text, images),
        )

    def _prompt_with_images(self, chat_input):
        """The ChatPrompt of a request with images, their tags in its text; checked before any is loaded."""
        if self.vision is None:
            refuse_images(chat_input, self.context.servable)
        self.vision.check_count(chat_input.images)
        template = self.prompts.template
        # Tool instructions written into a message's text need it as one string (tool_prompt.py).
        native = template_places_images(template.source) and not (chat_input.tools and not template.mentions("tools"))
        messages = chat_input.messages if native else with_image_tags(chat_input.messages)
        prompt = self.prompts.prepare(chat_input.with_messages(messages))
        if native:  # the template wrote the model's placeholders; the pipeline matches them to the images in order
            return prompt
        tags = sum(prompt.text.count(IMAGE_TAG.format(index)) for index in range(len(chat_input.images)))
        if tags != len(chat_input.images):
            raise InvalidRequest(
                f"The prompt places {tags} of the request's {len(chat_input.images)} images (the chat template "
                "dropped some, or the text names image tags itself).",
                param="messages",
            )
        return prompt

    def _ids_with_images(self, text):
        """The worker's count of a prompt with images: the text's tokens, and each image (a universal tag, or
        the model's image token the template wrote) as the model's image token repeated as often as
        config.json says an image takes (where it doesn't say: a tag counts nothing, a token once)."""
        token_id, per_image = self.image_tokens
        ids = []
        for index, piece in enumerate(IMAGE_TAG_PATTERN.split(text)):
            if index % 2 == 0:
                for token in self.tokenizer.encode(piece, add_special_tokens=False) if piece else ():
                    ids += [token] * (per_image if token == token_id and per_image else 1)
            elif token_id is not None and per_image:
                ids += [token_id] * per_image
        return ids

    def complete(self, completion_input):
        self.require_ready()
        if completion_input.prompt_ids:
            prompt_ids = self.tokenizer.known_ids(completion_input.prompt_ids, "prompt")
            echo_text = self.tokenizer.decode(prompt_ids) if completion_input.echo else None
        else:
            prompt_ids = self.tokenizer.encode(completion_input.prompt, add_special_tokens=True, param="prompt")
            echo_text = completion_input.prompt if completion_input.echo else None
        vision = None
        if self.vision is not None:  # a vision-language pipeline takes text, not token ids (vision.py)
            text = completion_input.prompt if not completion_input.prompt_ids else None
            vision = (text if text is not None else self.tokenizer.decode_with_markers(prompt_ids), ())
        return self._generate(
            prompt_ids, completion_input.params, echo_text=echo_text, prompt_param="prompt", vision=vision
        )

    def _generate(
        self,
        prompt_ids,
        params,
        new_output=plain_output,
        constraint=None,
        echo_text=None,
        prompt_param="messages",
        vision=None,
    ):
        max_new_tokens = self.limits.max_new_tokens(
            len(prompt_ids), params.max_tokens, prompt_param, params.max_tokens_param
        )
        # Resolved once: from here on every sampling field is the request's, else this servable's default.
        effective = self.generation_defaults.resolve(params)
        self.limits.check_choices(effective, max_new_tokens, temperature_given=params.temperature is not None)
        params, sampled = effective, effective.temperature > 0
        scoring = scoring_param(params, echo_text is not None)
        if scoring and vision is not None:
            raise InvalidRequest(
                "Log-probabilities of the prompt are not available on a vision-language model.", param=scoring
            )
        if scoring:
            check_scorable(scoring, self.options["enable_prefix_caching"])
        if params.structured_output and params.structured_output[0] == "json_schema":
            check_schema(
                json.loads(params.structured_output[1]), "response_format.json_schema.schema", self.schema_limits
            )
        request = GenerationRequest(
            tuple(prompt_ids),
            generation_settings(params, max_new_tokens, sampled, score_prompt=scoring is not None),
            spec_text(constraint or response_format_spec(params.structured_output)),
            *(vision or ()),
        )
        stream = self.client.submit(request, timeout=self.options.get("request_timeout_seconds"))
        tokenizer = self.tokenizer
        keeps_markers = new_output is not plain_output and self.prompts.parsing.keeps_special_tokens
        settings = ChoiceSettings(
            partial(tokenizer.new_detokenizer, keeps_markers),
            params.stop,
            params.include_stop_str_in_output,
            params.stop_token_ids,
            self._token_text(params, echo_scored=scoring is not None and echo_text is not None),
            new_output,
        )
        prompt_scoring = None
        if scoring:
            as_list = params.prompt_logprobs is not None
            prompt_scoring = PromptScoring(prompt_ids, tokenizer.token_text, echo_text, params.logprobs, as_list)
        return LLMGeneration(
            stream, len(prompt_ids), params.n, settings, echo_text, copies=not sampled, prompt_scoring=prompt_scoring
        )

    def _token_text(self, params, echo_scored):
        """How the generated tokens' logprobs name their tokens (None: no logprobs)."""
        if not params.logprobs:
            return None
        if echo_scored:
            return listing_special_tokens(self.tokenizer.token_text, self.tokenizer.decode_with_markers)
        return self.tokenizer.token_text

    # --- tokenize / detokenize -------------------------------------------------------------
    def tokenize_chat(self, chat_input):
        self.require_ready()
        if chat_input.images:
            return self._ids_with_images(self._prompt_with_images(chat_input).text)
        return self.tokenizer.encode(self.prompts.prepare(chat_input).text, add_special_tokens=False)

    def tokenize_text(self, text, add_special_tokens=True):
        self.require_ready()
        return self.tokenizer.encode(text, add_special_tokens=add_special_tokens, param="prompt")

    def detokenize(self, ids):
        self.require_ready()
        return self.tokenizer.decode(self.tokenizer.known_ids(ids, "tokens"))
