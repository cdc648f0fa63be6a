"""The engine side of the LLM node: one ContinuousBatchingPipeline, stepped by the engine host.

Requests arrive as token ids (the HTTP workers template and tokenize), and leave as new token ids
per sequence after every step (the workers detokenize). Only this module touches the pipeline and
its generation handles, always from the engine host's single thread.

A step that raises (measured: a grammar that fails to compile raises from `step()`, and the pipeline then
refuses every later step until all its requests are cancelled) fails only the request at fault: every
handle is cancelled, the request whose grammar was compiling fails with a 400, and the others start again
from their prompt and the tokens they already sent, so their streams go on.
"""

import logging
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy
import openvino
import openvino_genai

from ovserve.nodes.engine_errors import describe, without_source_location
from ovserve.nodes.llm.grammar_admission import GrammarAdmission
from ovserve.nodes.llm.messages import GenerationSettings, TokenUpdate
from ovserve.nodes.llm.output_constraints import build_config
from ovserve.runtime.engine import Engine, EngineBusy, RequestFailure, RequestRejected
from ovserve.runtime.messages import FailureKind

log = logging.getLogger("ovserve.engine.llm")

_FINISH_REASONS = {
    openvino_genai.GenerationFinishReason.STOP: "stop",
    openvino_genai.GenerationFinishReason.LENGTH: "length",
    openvino_genai.GenerationFinishReason.TOOL_CALL: "tool_calls",
}
_RUNNING = openvino_genai.GenerationStatus.RUNNING
# Failed steps in a row that no request explains: then the pipeline itself is broken, and the engine exits
# for the supervisor to start a new one.
MAX_UNEXPLAINED_FAILURES = 2
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


def _one_sequence(settings, index):
    """The settings of sampled choice `index` as a handle of its own: one sequence, a seed of its own (the same
    request seed gives the same choices; the same seed for all would give n copies)."""
    seed = ((settings.rng_seed or 0) + 7919 * index) % 2**64
    return replace(settings, num_return_sequences=1, rng_seed=seed)


def _unscored_prompt():
    # Measured: a prompt prefix restored from the prefix cache comes back with fewer log-probabilities than
    # ids (or fewer ids, when max_new_tokens is 0); the worker refuses prompt scoring on such servables, so
    # this only guards against a silently wrong score.
    return RequestFailure(
        FailureKind.ENGINE, "the engine did not score the whole prompt (a prefix came from the prefix cache)"
    )


@dataclass
class _Request:
    """One worker request: its settings, the pipeline handles that generate it, what it has produced.

    A request is usually one handle. Sampled choices (n > 1) are a handle each: the pipeline streams a handle
    only while it has one sequence, and sends all the sequences of a multinomial handle at its end (measured:
    n=2 at temperature 0.8 came in one read after 3.3 s, n=1 first read after 0.37 s). After a failed step
    each unfinished sequence resumes as a handle of its own (`parts`: handle -> {the handle's sequence
    index: the request's}).

    With `settings.echo`, each sequence's first reads start with the prompt's ids (all at once, or a
    prefill chunk a step when max_new_tokens is 0): `echo_left` counts what is still to take off, and
    `prompt_logprobs` gathers sequence 0's scores of it."""

    prompt_ids: list
    settings: GenerationSettings
    schema: Optional[str]
    parts: list = field(default_factory=list)  # [(handle, index map or None)]
    emitted: dict = field(default_factory=dict)  # request sequence index -> token ids sent
    finished: set = field(default_factory=set)  # request sequence indices that finished
    echo_left: dict = field(default_factory=dict)  # request sequence index -> echoed prompt ids still to come
    prompt_logprobs: list = field(default_factory=list)
    prompt_scored: bool = False  # the prompt's log-probabilities were sent

    @property
    def started(self):
        return bool(self.parts)


class ContinuousBatchingEngine(Engine):
    def __init__(self, options):
        super().__init__(options)
        properties = {key: str(value) for key, value in options.get("plugin_config", {}).items()}
        # Prompt lookup is a pipeline of its own, chosen by this property (a real bool); it refuses every
        # request that lacks num_assistant_tokens and max_ngram_size, the warm-up included (measured).
        self.prompt_lookup = None
        if options.get("prompt_lookup"):
            properties["prompt_lookup"] = True
            self.prompt_lookup = (options["num_assistant_tokens"], options["max_ngram_size"])
        self.pipeline = openvino_genai.ContinuousBatchingPipeline(
            options["models_path"], scheduler_config(options), options["device"], properties
        )
        self.eos_token_id = self.pipeline.get_tokenizer().get_eos_token_id()
        self.requests = {}
        self.admission = GrammarAdmission()
        self.next_handle_id = 0
        self.unexplained_failures = 0
        self.failed_steps = 0
        self.resumed_requests = 0
        self._warm_up()
        # The pipeline's metrics describe the state at the start of its last step, and a cancelled
        # request leaves at the end of the next one (measured): two more (empty) steps make the
        # freed KV blocks visible in the metrics.
        self.settle_steps = 0

    def _warm_up(self):
        """One tiny generation before serving: the first inference compiles kernels and allocates the
        cache (measured: the first step after start took ~1.4 s), which the first client would pay."""
        config = openvino_genai.GenerationConfig()
        config.max_new_tokens = 2
        self._with_prompt_lookup(config)
        prompt = openvino.Tensor(numpy.array([[self.eos_token_id] * 8], dtype=numpy.int64))
        handle = self.pipeline.add_request(WARM_UP_REQUEST_ID, prompt, config)
        while self.pipeline.has_non_finished_requests():
            self.pipeline.step()
        while handle.can_read():
            handle.read()
        self.pipeline.step()  # let the metrics forget the warm-up request

    def _with_prompt_lookup(self, config):
        if self.prompt_lookup:
            config.num_assistant_tokens, config.max_ngram_size = self.prompt_lookup
        return config

    def info(self):
        return {"kind": "llm", "models_path": self.options["models_path"], "eos_token_id": self.eos_token_id}

    # --- requests in ------------------------------------------------------------------------
    def _config(self, settings, schema):
        config = self._with_prompt_lookup(generation_config(settings))
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

    def submit(self, key, request):
        limit = self.options["max_num_seqs"] + self.options["max_queued_requests"]
        if len(self.requests) >= limit:
            raise EngineBusy(
                f"The server is at capacity ({len(self.requests)} requests running or queued); retry shortly."
            )
        live = _Request(list(request.prompt_ids), request.settings, request.structured_output)
        config = self._config(live.settings, live.schema)
        self.requests[key] = live
        if live.schema is None or self.admission.is_compiled(live.schema):
            self._start(live, config)
        else:
            self.admission.add(key, live.schema)  # joins at a step where its grammar is the one compiling

    def _add(self, prompt_ids, config):
        self.next_handle_id += 1
        input_ids = openvino.Tensor(numpy.array([prompt_ids], dtype=numpy.int64))
        return self.pipeline.add_request(self.next_handle_id, input_ids, config)

    def _start(self, request, config=None):
        settings = request.settings
        if settings.echo:
            request.echo_left = dict.fromkeys(range(settings.num_return_sequences), len(request.prompt_ids))
            request.prompt_logprobs = []
        if settings.num_return_sequences == 1:
            config = config or self._config(settings, request.schema)
            request.parts = [(self._add(request.prompt_ids, config), None)]
            return
        request.parts = [
            (self._add(request.prompt_ids, self._config(_one_sequence(settings, index), request.schema)), {0: index})
            for index in range(settings.num_return_sequences)
        ]

    def cancel(self, key):
        request = self.requests.pop(key, None)
        if request is None:
            return
        if not request.started:
            self.admission.cancel(key)
            return
        if request.schema and not request.emitted:
            self.admission.left(request.schema)
        for handle, _ in request.parts:
            handle.cancel()
        self.settle_steps = 2

    def has_work(self):
        return bool(self.requests) or self.settle_steps > 0 or self.pipeline.has_non_finished_requests()

    # --- the step ------------------------------------------------------------------------------
    def step(self):
        for key in self.admission.admit():
            if key in self.requests:
                self._start(self.requests[key])
        try:
            self.pipeline.step()
        except Exception as exc:
            return self._recover(exc)
        self.unexplained_failures = 0
        self.settle_steps = max(0, self.settle_steps - 1)
        updates = []
        for key, request in list(self.requests.items()):
            if request.started:
                update = self._read(request)
                if update is not None:
                    done = isinstance(update, RequestFailure) or update.status != "running"
                    if done:
                        del self.requests[key]
                        self.settle_steps = 2
                        if isinstance(update, RequestFailure):
                            for handle, _ in request.parts:
                                handle.cancel()
                    updates.append((key, update, done))
        return updates

    def _read(self, request):
        """The news of one request since the last step (None if none), recording what it sent."""
        sequences = {}
        for handle, index_map in request.parts:
            while handle.can_read():
                for index, output in handle.read().items():
                    index = index_map.get(index, index) if index_map else index
                    ids, logprobs, reason = sequences.setdefault(index, ([], [], [None]))
                    new_ids, new_logprobs = list(output.generated_ids), list(output.generated_log_probs)
                    if request.echo_left.get(index):
                        if request.settings.logprobs and len(new_logprobs) != len(new_ids):
                            return _unscored_prompt()
                        new_ids, new_logprobs = self._take_echo(request, index, new_ids, new_logprobs)
                    ids.extend(new_ids)
                    logprobs.extend(new_logprobs)
                    if output.finish_reason in _FINISH_REASONS:
                        reason[0] = _FINISH_REASONS[output.finish_reason]
        for index, (ids, _, reason) in sequences.items():
            request.emitted.setdefault(index, []).extend(ids)
            if reason[0]:
                request.finished.add(index)
        if sequences and request.schema:
            self.admission.compiled(request.schema)
        statuses = [handle.get_status() for handle, _ in request.parts]
        running = any(status == _RUNNING for status in statuses)
        scored = self._scored_prompt(request, running)
        if isinstance(scored, RequestFailure):
            return scored
        if not running and request.settings.max_new_tokens == 0:
            # A score-only request ends with no finish reason from the pipeline (measured: NONE): its length.
            for index in range(request.settings.num_return_sequences):
                reason = sequences.setdefault(index, ([], [], [None]))[2]
                reason[0] = reason[0] or "length"
        if not sequences and not scored and running:
            return None
        status = _RUNNING if running else next((s for s in statuses if s.name != "FINISHED"), statuses[0])
        return TokenUpdate(
            tuple((index, ids, logprobs, reason[0]) for index, (ids, logprobs, reason) in sequences.items()),
            status.name.lower(),
            scored,
        )

    def _take_echo(self, request, index, ids, logprobs):
        """Take the echoed prompt off the front of a read: (the generated ids, their log-probabilities)."""
        echoed = min(request.echo_left[index], len(ids))
        request.echo_left[index] -= echoed
        if index == 0:
            request.prompt_logprobs.extend(logprobs[:echoed])
        return ids[echoed:], logprobs[echoed:]

    def _scored_prompt(self, request, running):
        """The prompt's log-probabilities once all of them came (first None), else (); a RequestFailure if the
        request ended without them."""
        if not request.settings.echo or not request.settings.logprobs or request.prompt_scored:
            return ()
        if request.echo_left.get(0) or len(request.prompt_logprobs) != len(request.prompt_ids):
            return () if running else _unscored_prompt()
        scores = (None,) + tuple(request.prompt_logprobs[1:])  # the pipeline's first is a placeholder (1.0)
        request.prompt_scored = True
        return scores

    # --- a failed step ---------------------------------------------------------------------------
    def _recover(self, exc):
        """Cancel everything (the only state the pipeline steps again from), fail the request whose grammar
        was compiling, resume the others."""
        problem = describe(exc)
        self.failed_steps += 1
        compiling = self.admission.compiling
        started = {key: request for key, request in self.requests.items() if request.started}
        at_fault = {
            key
            for key, request in started.items()
            if compiling is not None and request.schema == compiling and not request.emitted
        }
        if not at_fault:
            self.unexplained_failures += 1
            if self.unexplained_failures > MAX_UNEXPLAINED_FAILURES:
                raise exc
        log.error(
            "a step failed (%s); failing the %d request(s) whose grammar was compiling, resuming %d",
            problem,
            len(at_fault),
            len(started) - len(at_fault),
        )
        for request in started.values():
            for handle, _ in request.parts:
                handle.cancel()
            request.parts = []
        self.pipeline.step()  # drops the cancelled requests (measured: the step after this one succeeds)
        self.settle_steps = 2
        updates = []
        if at_fault:
            message = f"the engine could not compile this request's JSON schema: {problem}"
            for key in at_fault | set(self.admission.failed(compiling)):
                del self.requests[key]
                updates.append((key, RequestFailure(FailureKind.REJECTED, message, "response_format"), True))
        for key, request in started.items():
            if key in at_fault:
                continue
            if not self._resume(request):
                del self.requests[key]
                updates.append(
                    (
                        key,
                        RequestFailure(
                            FailureKind.ENGINE,
                            f"the engine had to restart a step ({problem}) and can't resume a constrained "
                            "generation midway; retry the request",
                        ),
                        True,
                    )
                )
            elif not request.started:  # every sequence had already finished
                del self.requests[key]
                updates.append((key, TokenUpdate((), "finished"), True))
        return updates

    def _resume(self, request):
        """Start a request again where its sequences stand: each unfinished one from the prompt and the
        tokens it already sent (the prefix cache makes that prefill cheap). False if it can't be resumed:
        a grammar can't be restarted midway."""
        if not request.emitted and not request.prompt_scored:
            self._start(request)
            return True
        if request.schema is not None:
            return False
        self.resumed_requests += 1
        settings = request.settings
        for index in range(settings.num_return_sequences):
            if index in request.finished:
                continue
            sent = request.emitted.get(index, [])
            if len(sent) >= settings.max_new_tokens:
                continue
            resumed = replace(
                settings,
                echo=False,  # its prompt's scores were sent
                num_return_sequences=1,
                max_new_tokens=settings.max_new_tokens - len(sent),
                min_new_tokens=max(0, settings.min_new_tokens - len(sent)),
            )
            if settings.do_sample:
                # A seed of its own per sequence and restart: the same seed would replay the first tokens.
                resumed = replace(
                    resumed, rng_seed=((settings.rng_seed or 0) + 7919 * (index + 1) * self.resumed_requests) % 2**64
                )
            handle = self._add(request.prompt_ids + sent, self._config(resumed, None))
            request.parts.append((handle, {0: index}))
        return True

    def stats(self):
        """The pipeline's metrics as of its last step. openvino_genai 2026.4 exposes no prefix-cache hit
        count (PipelineMetrics: requests, scheduled_requests, cache_usage, avg/max_cache_usage,
        kv_cache_size_in_bytes, la_peak_pool_blocks), so none is reported."""
        metrics = self.pipeline.get_metrics()
        return {
            "live_requests": len(self.requests),
            "waiting_for_grammar": len(self.admission),
            "failed_steps": self.failed_steps,
            "engine_requests": metrics.requests,
            "scheduled_requests": metrics.scheduled_requests,
            "cache_usage": metrics.cache_usage,  # a percentage (measured: 33 blocks of a 1 GB cache read 1.35)
            "kv_cache_bytes": metrics.kv_cache_size_in_bytes,
        }
