"""The engine side of the LLM node: one ContinuousBatchingPipeline, stepped by the engine host.

Requests arrive as token ids (the HTTP workers template and tokenize), and leave as new token ids
per sequence after every step (the workers detokenize). Only this module and the ones it puts together
touch the pipeline and its generation handles, always from the engine host's single thread:
`engine_pipeline.py` builds the pipeline and puts requests into it, `engine_request.py` is a request's
state and the reading of its handles, `grammar_admission.py` lets one new grammar join per step, and
`engine_recovery.py` fails only the request at fault when a step raises.
"""

from ovserve.nodes.llm.engine_pipeline import RequestLauncher, VisionPrompt, open_pipeline, warm_up
from ovserve.nodes.llm.engine_recovery import StepRecovery
from ovserve.nodes.llm.engine_request import LiveRequest
from ovserve.nodes.llm.grammar_admission import GrammarAdmission
from ovserve.nodes.llm.vision import is_vision_folder
from ovserve.runtime.engine import Engine, EngineBusy, RequestFailure, RequestRejected
from ovserve.runtime.messages import FailureKind


class ContinuousBatchingEngine(Engine):
    def __init__(self, options):
        super().__init__(options)
        self.pipeline, prompt_lookup = open_pipeline(options)
        self.eos_token_id = self.pipeline.get_tokenizer().get_eos_token_id()
        self.launcher = RequestLauncher(self.pipeline, self.eos_token_id, prompt_lookup)
        self.requests = {}
        self.admission = GrammarAdmission()
        self.recovery = StepRecovery(self.pipeline, self.launcher, self.admission)
        warm_up(self.pipeline, self.launcher, vision=is_vision_folder(options["models_path"]))
        # The pipeline's metrics describe the state at the start of its last step, and a cancelled
        # request leaves at the end of the next one (measured): two more (empty) steps make the
        # freed KV blocks visible in the metrics.
        self.settle_steps = 0

    def info(self):
        return {"kind": "llm", "models_path": self.options["models_path"], "eos_token_id": self.eos_token_id}

    def submit(self, key, request):
        limit = self.options["max_num_seqs"] + self.options["max_queued_requests"]
        if len(self.requests) >= limit:
            raise EngineBusy(
                f"The server is at capacity ({len(self.requests)} requests running or queued); retry shortly."
            )
        live = LiveRequest(
            list(request.prompt_ids), request.settings, request.structured_output, vision=VisionPrompt.of(request)
        )
        config = self.launcher.config(live.settings, live.schema)
        self.requests[key] = live
        if live.schema is None or self.admission.is_compiled(live.schema):
            try:
                self.launcher.start(live, config)
            except RequestRejected:
                del self.requests[key]
                raise
        else:
            self.admission.add(key, live.schema)  # joins at a step where its grammar is the one compiling

    def cancel(self, key):
        request = self.requests.pop(key, None)
        if request is None:
            return
        if not request.started:
            self.admission.cancel(key)
            return
        if request.schema and not request.emitted:
            self.admission.left(request.schema)
        request.cancel_handles()
        self.settle_steps = 2

    def has_work(self):
        return bool(self.requests) or self.settle_steps > 0 or self.pipeline.has_non_finished_requests()

    def step(self):
        refused = []
        for key in self.admission.admit():
            if key in self.requests:
                try:
                    self.launcher.start(self.requests[key])
                except RequestRejected as exc:  # an image request whose text the pipeline refused
                    del self.requests[key]
                    refused.append((key, RequestFailure(FailureKind.REJECTED, str(exc), exc.param), True))
        try:
            self.pipeline.step()
        except Exception as exc:
            updates = self.recovery.recover(exc, self.requests)
            self.settle_steps = 2
            return refused + updates
        self.recovery.step_succeeded()
        self.settle_steps = max(0, self.settle_steps - 1)
        updates = refused
        for key, request in list(self.requests.items()):
            if request.started:
                update = self._read(request)
                if update is not None:
                    done = isinstance(update, RequestFailure) or update.status != "running"
                    if done:
                        del self.requests[key]
                        self.settle_steps = 2
                        if isinstance(update, RequestFailure):
                            request.cancel_handles()
                    updates.append((key, update, done))
        return updates

    def _read(self, request):
        """The news of one request since the last step (None if none); output tells its grammar compiled."""
        reading = request.read()
        if reading.had_output and request.schema:
            self.admission.compiled(request.schema)
        return reading.news

    def stats(self):
        """The pipeline's metrics as of its last step. openvino_genai 2026.4 exposes no prefix-cache hit
        count (PipelineMetrics: requests, scheduled_requests, cache_usage, avg/max_cache_usage,
        kv_cache_size_in_bytes, la_peak_pool_blocks), so none is reported."""
        metrics = self.pipeline.get_metrics()
        return {
            "live_requests": len(self.requests),
            "waiting_for_grammar": len(self.admission),
            "failed_steps": self.recovery.failed_steps,
            "engine_requests": metrics.requests,
            "scheduled_requests": metrics.scheduled_requests,
            "cache_usage": metrics.cache_usage,  # a percentage (measured: 33 blocks of a 1 GB cache read 1.35)
            "kv_cache_bytes": metrics.kv_cache_size_in_bytes,
        }
