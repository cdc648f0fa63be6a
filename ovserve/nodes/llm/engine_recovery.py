"""What the engine does when a step raises: fail only the request at fault, resume the others.

Measured: a grammar that fails to compile raises from `step()`, and the pipeline then refuses every later
step until all its requests are cancelled. So every handle is cancelled, the request whose grammar was
compiling (grammar_admission.py knows which) fails with a 400, and the others start again from their
prompt and the tokens they already sent, so their streams go on.
"""

import logging
from dataclasses import replace

from ovserve.nodes.engine_errors import describe
from ovserve.nodes.llm.messages import TokenUpdate
from ovserve.runtime.engine import RequestFailure
from ovserve.runtime.messages import FailureKind

log = logging.getLogger("ovserve.engine.llm")

# Failed steps in a row that no request explains: then the pipeline itself is broken, and the engine exits
# for the supervisor to start a new one.
MAX_UNEXPLAINED_FAILURES = 2


class StepRecovery:
    def __init__(self, pipeline, launcher, admission):
        self.pipeline = pipeline
        self.launcher = launcher
        self.admission = admission
        self.failed_steps = 0
        self.unexplained_failures = 0
        self.resumed_requests = 0

    def step_succeeded(self):
        self.unexplained_failures = 0

    def recover(self, exc, requests):
        """Cancel everything (the only state the pipeline steps again from), fail the request whose grammar
        was compiling, resume the others. `requests`: the engine's live requests by key, from which those
        that end here are removed. Returns their [(key, result, True)]; raises `exc` again when the
        pipeline keeps failing with no request to blame."""
        problem = describe(exc)
        self.failed_steps += 1
        compiling = self.admission.compiling
        started = {key: request for key, request in requests.items() if request.started}
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
            request.cancel_handles()
        self.pipeline.step()  # drops the cancelled requests (measured: the step after this one succeeds)
        updates = []
        if at_fault:
            message = f"the engine could not compile this request's JSON schema: {problem}"
            for key in at_fault | set(self.admission.failed(compiling)):
                del requests[key]
                updates.append((key, RequestFailure(FailureKind.REJECTED, message, "response_format"), True))
        for key, request in started.items():
            if key in at_fault:
                continue
            if not self._resume(request):
                del requests[key]
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
                del requests[key]
                updates.append((key, TokenUpdate((), "finished"), True))
        return updates

    def _resume(self, request):
        """Start a request again where its sequences stand: each unfinished one from the prompt and the
        tokens it already sent (the prefix cache makes that prefill cheap). False if it can't be resumed:
        a grammar can't be restarted midway."""
        if not request.emitted and not request.prompt_scored:
            self.launcher.start(request)
            return True
        if request.schema is not None or request.vision is not None:
            return False  # (an image request resumed from token ids would lose its images)
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
            handle = self.launcher.add(request.prompt_ids + sent, self.launcher.config(resumed, None))
            request.parts.append((handle, {0: index}))
        return True
