"""The worker side of the LLM node: templating, tokenization, limits, detokenization.

The pipeline itself lives in an engine process (see engine.py and runtime/engine_host.py); this
node prepares token ids, submits them through the bridge, and turns the engine's token ids back
into text for every HTTP worker.
"""

import json
import logging
import random
from importlib import resources

from ovserve.errors import InvalidRequest, NotReady
from ovserve.graph.messages import RESERVED_TEMPLATE_VARIABLES
from ovserve.graph.node import EngineSpec, TextGenerator
from ovserve.nodes import model_folder
from ovserve.nodes.llm import model_files
from ovserve.nodes.llm.chat_template import DEFAULT_CHAT_TEMPLATE, ChatTemplate, TemplateError
from ovserve.nodes.llm.schema_guard import SchemaLimits, check_schema
from ovserve.nodes.llm.detokenizer import ByteLevelDetokenizer, IncrementalDetokenizer, byte_table
from ovserve.nodes.llm.generation import ChoiceSettings, LLMGeneration
from ovserve.nodes.llm.generation_defaults import GenerationDefaults
from ovserve.nodes.llm.long_prompts import cut_length, encode_whole
from ovserve.nodes.llm.tool_calls import ForcedToolCall, PlainOutput, TaggedToolCalls, forced_call_schema
from ovserve.nodes.llm.tool_prompt import with_tool_instructions

log = logging.getLogger("ovserve.llm")
OPTIONS_SCHEMA = json.loads(resources.files("ovserve.nodes.llm").joinpath("options.schema.json").read_text())
ENGINE_OPTIONS = ("device", "cache_size", "max_num_seqs", "max_num_batched_tokens", "dynamic_split_fuse",
                  "enable_prefix_caching", "plugin_config", "max_queued_requests", "prompt_lookup",
                  "num_assistant_tokens", "max_ngram_size")


DETERMINISTIC_PLUGIN_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}


def with_defaults(options, schema):
    merged = {name: prop["default"] for name, prop in schema["properties"].items() if "default" in prop}
    merged.update(options)
    return merged


class ContinuousBatchingLLMNode(TextGenerator):
    type_name = "llm_continuous_batching"
    options_schema = OPTIONS_SCHEMA
    capabilities = ("chat.completions", "completions", "tokenize")

    def __init__(self, options, context):
        super().__init__(with_defaults(options, OPTIONS_SCHEMA), context)
        self.models_path = context.resolve_path("models_path", self.options["models_path"])
        if not (model_files.is_gguf(self.models_path) or self.models_path.is_dir()):
            raise context.error("models_path", f"{self.models_path} is neither a .gguf file nor a model folder")
        if self.models_path.is_dir():
            missing = model_folder.missing_ir_files(self.models_path, model_files.IR_FILES)
            if missing:
                raise context.error("models_path", f"the OpenVINO IR folder {self.models_path} lacks {', '.join(missing)}",
                                    "export it with `ovserve export` or optimum-cli (with its tokenizer and detokenizer)")
        if "prompt_lookup" in self.options["plugin_config"]:
            # The engine property would switch the pipeline without the per-request settings it requires.
            raise context.error("plugin_config", "prompt_lookup is a node option here, not a plugin property",
                                "set \"prompt_lookup\": true beside plugin_config")
        self.max_model_len = self.options.get("max_model_len") or model_files.context_length(self.models_path)
        if not self.max_model_len:
            raise context.error("max_model_len", "the model files don't state a context length", "set max_model_len")
        self.max_tokens_limit = self.options.get("max_tokens_limit")
        self.generation_defaults = self._generation_defaults()
        self.schema_limits = SchemaLimits.from_options(self.options["structured_output_limits"])
        self.template_override = self._template_override()
        self.client = None
        self.tokenizer = None
        self.template = None
        self.byte_table = None
        self.vocab_size = None  # known once the tokenizer is loaded, if it lists its vocabulary
        self.tokenizer_cut = None  # where the tokenizer cuts long texts (GGUF: 8,192 tokens), measured at load
        self.max_prompt_chars = None  # no longer text fits the context (known with the vocabulary)

    def _generation_defaults(self):
        options = self.options["generation_defaults"]
        if self.max_tokens_limit and options.get("max_tokens", 0) > self.max_tokens_limit:
            raise self.context.error("generation_defaults.max_tokens", f"{options['max_tokens']} is above max_tokens_limit "
                                     f"({self.max_tokens_limit})", "lower it, or raise max_tokens_limit")
        option_schemas = OPTIONS_SCHEMA["properties"]["generation_defaults"]["properties"]
        try:
            return GenerationDefaults.for_model(options, self.models_path, option_schemas, self.max_tokens_limit)
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
    def engine_spec(self):
        options = {name: self.options[name] for name in ENGINE_OPTIONS}
        if self.options["deterministic"]:
            # Batch-invariant numerics (measured: see docs/performance.md): f32 and no dynamic quantization.
            options["plugin_config"] = {**DETERMINISTIC_PLUGIN_CONFIG, **options["plugin_config"]}
        options["models_path"] = str(self.models_path)
        return EngineSpec("ovserve.nodes.llm.engine:ContinuousBatchingEngine", options)

    def load(self, runtime):
        self.client = runtime.engine_client(self.context.servable, self.context.node_name)
        runtime.in_background(self._load_tokenizer)

    def _load_tokenizer(self):
        import openvino_genai  # only here: the supervisor validates configs without loading OpenVINO

        tokenizer = openvino_genai.Tokenizer(str(self.models_path))
        source = self.template_override or tokenizer.chat_template or DEFAULT_CHAT_TEMPLATE
        special_tokens = {"bos_token": tokenizer.get_bos_token(), "eos_token": tokenizer.get_eos_token()}
        self.template = ChatTemplate(source, special_tokens)
        self.byte_table = self._verified_byte_table(tokenizer)
        self.vocab_size = self._vocab_size(tokenizer)
        longest_token = max(map(len, tokenizer.get_vocab()), default=0)
        self.max_prompt_chars = self.max_model_len * longest_token or None
        if model_files.is_gguf(self.models_path):
            # Only GGUF tokenizers cut (see long_prompts.py); a probe of 65,536 tokens takes ~10 ms.
            self.tokenizer_cut = cut_length(lambda text: self._encode_piece(tokenizer, text, False),
                                            max(self.max_model_len, 2**16))
        self.tokenizer = tokenizer
        log.info("%s: tokenizer loaded (%s detokenization)", self.context.servable,
                 "byte-table" if self.byte_table else "windowed")

    @staticmethod
    def _vocab_size(tokenizer):
        vocab = tokenizer.get_vocab()
        return max(vocab.values()) + 1 if vocab else None

    @staticmethod
    def _verified_byte_table(tokenizer):
        """A token->bytes table when it reproduces the model's own detokenizer exactly, else None."""
        vocab = tokenizer.get_vocab()
        if not vocab or not all(isinstance(token, bytes) for token in vocab):
            return None
        def decode(ids):
            return tokenizer.decode(ids, skip_special_tokens=True)
        candidates = {i for t, i in vocab.items() if t.startswith(b"<") and t.endswith(b">")}
        candidates |= {tokenizer.get_eos_token_id(), tokenizer.get_bos_token_id(), tokenizer.get_pad_token_id()}
        special = {i for i in candidates if i in vocab.values() and decode([i]) == ""}
        table = byte_table(vocab, special)
        samples = resources.files("ovserve.nodes.llm").joinpath("data", "detokenizer_check.txt").read_text("utf-8")
        for text in samples.splitlines() + [samples]:
            ids = tokenizer.encode(text, add_special_tokens=False).input_ids.data[0].tolist()
            ids = sorted(special)[:3] + ids
            detokenizer = ByteLevelDetokenizer(table)
            if detokenizer.add(ids) + detokenizer.flush() != decode(ids):
                return None
        return table

    def new_detokenizer(self):
        if self.byte_table is not None:
            return ByteLevelDetokenizer(self.byte_table)
        return IncrementalDetokenizer(self.decode)

    def is_ready(self):
        return self.tokenizer is not None and self.client is not None and self.client.responsive

    def describe(self):
        return {"max_model_len": self.max_model_len, "generation_defaults": self.generation_defaults.describe()}

    def stats(self):
        if self.client is None:
            return {}
        return {"worker_open_streams": self.client.open_streams, "engine": dict(self.client.stats)}

    # --- requests --------------------------------------------------------------------------
    def _require_ready(self):
        if not self.is_ready():
            raise NotReady(f"The model '{self.context.servable}' is still loading; retry shortly.")

    @staticmethod
    def _encode_piece(tokenizer, text, add_special_tokens):
        return tokenizer.encode(text, add_special_tokens=add_special_tokens).input_ids.data[0].tolist()

    def encode(self, text, add_special_tokens, param="messages"):
        """All the tokens of a text, even where the tokenizer would cut it."""
        if self.max_prompt_chars and len(text) > self.max_prompt_chars:
            # No token covers more characters than the longest in the vocabulary: refused before tokenizing, which
            # holds the HTTP worker's loop and the GIL (0.65 s for 15 MB, 7.5 s when encoded whole in pieces).
            raise InvalidRequest(f"This model's maximum context length is {self.max_model_len} tokens; a prompt of "
                                 f"{len(text)} characters is longer than any {self.max_model_len} tokens.",
                                 param=param, code="context_length_exceeded")
        return encode_whole(lambda piece, special: self._encode_piece(self.tokenizer, piece, special),
                            text, add_special_tokens, self.tokenizer_cut, param)

    def decode(self, ids):
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def render_chat(self, chat_input):
        messages = list(chat_input.messages)
        variables = dict(chat_input.template_kwargs)
        reserved = sorted(RESERVED_TEMPLATE_VARIABLES & variables.keys())
        if reserved:  # a processor node's input: the protocol layer already refuses these
            raise InvalidRequest(f"'{reserved[0]}' is a variable the server gives the chat template itself.",
                                 param=f"chat_template_kwargs.{reserved[0]}", code="invalid_value")
        if chat_input.tools:
            variables["tools"] = [dict(tool) for tool in chat_input.tools]
            if not self.template.mentions("tools"):
                messages = with_tool_instructions(messages, chat_input.tools, chat_input.tool_choice)
        if chat_input.documents:
            variables["documents"] = [dict(document) for document in chat_input.documents]
        try:
            rendered = self.template.render(messages, add_generation_prompt=chat_input.add_generation_prompt, **variables)
        except TemplateError as exc:
            raise InvalidRequest(str(exc), param="messages", code="chat_template_error") from None
        if chat_input.continue_final_message:
            # Cut after the final message's text: the template's end-of-turn must not follow it.
            final = messages[-1]["content"]
            position = rendered.rfind(final) if final else -1
            if position == -1:
                raise InvalidRequest("The chat template does not reproduce the final message; it can't be continued.",
                                     param="continue_final_message")
            rendered = rendered[: position + len(final)]
        return rendered

    def _chat_prompt(self, chat_input):
        """(prompt text, output handler, structured output) for a chat request."""
        prompt = self.render_chat(chat_input)
        choice = chat_input.tool_choice
        for index, tool in enumerate(chat_input.tools):
            check_schema(tool["function"].get("parameters", {}), f"tools[{index}].function.parameters", self.schema_limits)
        if chat_input.tools and choice not in ("none", "auto"):
            name = None if choice == "required" else choice
            schema = json.dumps(forced_call_schema(chat_input.tools, name))
            return prompt, (lambda: ForcedToolCall(name)), ("json_schema", schema)
        if chat_input.tools and choice == "auto" and self.options["tool_parser"] == "hermes":
            return prompt, (lambda: TaggedToolCalls(chat_input.parallel_tool_calls)), None
        return prompt, PlainOutput, None

    def chat(self, chat_input):
        self._require_ready()
        prompt, output, structured_output = self._chat_prompt(chat_input)
        return self._generate(self.encode(prompt, add_special_tokens=False), chat_input.params, output, structured_output)

    def complete(self, completion_input):
        self._require_ready()
        if completion_input.prompt_ids:
            prompt_ids = self._known_ids(completion_input.prompt_ids, "prompt")
            echo_text = self.decode(prompt_ids) if completion_input.echo else None
        else:
            prompt_ids = self.encode(completion_input.prompt, add_special_tokens=True, param="prompt")
            echo_text = completion_input.prompt if completion_input.echo else None
        return self._generate(prompt_ids, completion_input.params, echo_text=echo_text, prompt_param="prompt")

    def _known_ids(self, ids, param):
        """Token ids from a request, checked against the vocabulary (the engine must never see others)."""
        if self.vocab_size is None:
            raise InvalidRequest("This model's tokenizer does not list its vocabulary, so token ids can't be checked; "
                                 "send text instead.", param=param, code="unsupported_value")
        for position, token in enumerate(ids):
            if not 0 <= token < self.vocab_size:
                raise InvalidRequest(f"token id {token} is outside the vocabulary (0..{self.vocab_size - 1}).",
                                     param=f"{param}[{position}]", code="invalid_value")
        return list(ids)

    def _max_new_tokens(self, prompt_tokens, requested, prompt_param, max_param):
        room = self.max_model_len - prompt_tokens
        if room <= 0:
            raise InvalidRequest(
                f"This model's maximum context length is {self.max_model_len} tokens; the prompt alone is {prompt_tokens} tokens.",
                param=prompt_param, code="context_length_exceeded")
        if requested is None:
            # The servable's default is a cap, not a request: cut to the room left, never refused.
            caps = (room, self.max_tokens_limit, self.generation_defaults.max_tokens)
            return min(cap for cap in caps if cap)
        if self.max_tokens_limit and requested > self.max_tokens_limit:
            raise InvalidRequest(f"{max_param} is {requested}; this model allows at most {self.max_tokens_limit}.",
                                 param=max_param, code="max_tokens_exceeded")
        if requested > room:
            raise InvalidRequest(
                f"This model's maximum context length is {self.max_model_len} tokens. However, you requested "
                f"{prompt_tokens + requested} tokens ({prompt_tokens} in the prompt, {requested} for the completion). "
                f"Reduce the prompt or {max_param}.", param=max_param, code="context_length_exceeded")
        return requested

    def _check_choices(self, params, max_new_tokens, temperature_given):
        """Refuse what the engine can't do with these effective settings."""
        temperature = f"temperature {params.temperature}" + ("" if temperature_given else " (this model's default)")
        if params.min_tokens > max_new_tokens:
            raise InvalidRequest(f"min_tokens ({params.min_tokens}) can't exceed max_tokens ({max_new_tokens}).",
                                 param="min_tokens", code="invalid_value")
        if params.n > self.options["max_n"]:
            raise InvalidRequest(f"n is {params.n}; this model allows at most {self.options['max_n']}.", param="n")
        if self.options["prompt_lookup"] and params.n > 1 and params.temperature > 0:
            # The engine's prompt lookup draws one sequence per request (GenerationConfig.validate refuses more).
            raise InvalidRequest(f"n is {params.n} with {temperature}; this model runs prompt-lookup "
                                 "decoding, which samples one choice per request. Use n=1, or temperature 0.", param="n")
        if params.logprobs and params.top_logprobs and params.temperature > 0:
            # The engine reports the sampled token's log-probability only; it is the most likely token only when greedy.
            name = params.top_logprobs_param
            raise InvalidRequest(f"{name} {params.top_logprobs} asks for the most likely token, which this server knows "
                                 f"only in greedy decoding, and this request samples ({temperature}). Set temperature 0, "
                                 f"or {name} 0 for the sampled tokens' own log-probabilities.",
                                 param=name, code="unsupported_value")

    def _generate(self, prompt_ids, params, output=None, structured_output=None, echo_text=None, prompt_param="messages"):
        if not prompt_ids:
            raise InvalidRequest("The prompt is empty (0 tokens); send some text.", param=prompt_param, code="invalid_value")
        max_new_tokens = self._max_new_tokens(len(prompt_ids), params.max_tokens, prompt_param, params.max_tokens_param)
        # Resolved once: from here on every sampling field is the request's, else this servable's default.
        effective = self.generation_defaults.resolve(params)
        self._check_choices(effective, max_new_tokens, temperature_given=params.temperature is not None)
        params, sampled = effective, effective.temperature > 0
        fields = {
            "max_new_tokens": max_new_tokens,
            "min_new_tokens": params.min_tokens,
            "ignore_eos": params.ignore_eos,
            # Greedy choices are identical: generate one and copy it (OpenAI's n at temperature 0).
            "num_return_sequences": params.n if sampled else 1,
            "presence_penalty": params.presence_penalty,
            "frequency_penalty": params.frequency_penalty,
            "repetition_penalty": params.repetition_penalty,
            "stop_token_ids": list(params.stop_token_ids),
        }
        if params.logprobs:
            fields["logprobs"] = max(1, params.top_logprobs)
        if sampled:
            # An unseeded request gets a fresh seed: the engine's default seed is a constant.
            fields.update(do_sample=True, temperature=params.temperature,
                          top_p=params.top_p, top_k=params.top_k if params.top_k > 0 else 2**31 - 1, min_p=params.min_p,
                          # OpenAI seeds are signed 64-bit; the engine's is unsigned: wrap, same seed -> same stream.
                          rng_seed=params.seed % 2**64 if params.seed is not None else random.getrandbits(31))
        else:
            fields["do_sample"] = False
        if params.structured_output and params.structured_output[1] is not None:
            check_schema(json.loads(params.structured_output[1]), "response_format.json_schema.schema", self.schema_limits)
        payload = {"prompt_ids": prompt_ids, "generation": fields,
                   "structured_output": structured_output or params.structured_output}
        stream = self.client.submit(payload, timeout=self.options.get("request_timeout_seconds"))
        settings = ChoiceSettings(self.new_detokenizer, params.stop, params.include_stop_str_in_output,
                                  params.stop_token_ids, self.token_text if params.logprobs else None,
                                  output or PlainOutput)
        return LLMGeneration(stream, len(prompt_ids), params.n, settings, echo_text, copies=not sampled)

    def token_text(self, token_id):
        """(text, bytes) of one token, for logprobs; special tokens have no bytes."""
        if self.byte_table is not None:
            raw = self.byte_table[token_id] if 0 <= token_id < len(self.byte_table) else b""
        else:
            raw = self.decode([token_id]).encode("utf-8")
        return raw.decode("utf-8", errors="replace"), tuple(raw)

    # --- tokenize / detokenize -------------------------------------------------------------
    def tokenize_chat(self, chat_input):
        self._require_ready()
        prompt, _, _ = self._chat_prompt(chat_input)
        return self.encode(prompt, add_special_tokens=False)

    def tokenize_text(self, text, add_special_tokens=True):
        self._require_ready()
        return self.encode(text, add_special_tokens=add_special_tokens, param="prompt")

    def detokenize(self, ids):
        self._require_ready()
        return self.decode(self._known_ids(ids, "tokens"))
