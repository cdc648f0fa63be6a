"""The generation thread: the one thread that runs the pipelines once they are loaded.

A generation lasts seconds to minutes. Run inside the engine's step, it would stop the engine host's
loop for all of it: no cancellations read, no heartbeat, no stats (the workers take an engine silent
for 10 s for stuck). The pipelines release the GIL while they infer (measured: a 1 ms ticker thread
ran 375 times during a 0.41 s generation), so here they run on this thread while the loop goes on;
the pipeline's step callback tells the progress and stops a generation whose request was cancelled.
"""

import logging
import queue
import threading
import time

from ovserve.nodes.engine_errors import describe
from ovserve.nodes.image_generation import codec
from ovserve.nodes.image_generation.messages import GeneratedImages
from ovserve.nodes.image_generation.pipelines import run_job
from ovserve.runtime.engine import RequestFailure, RequestRejected
from ovserve.runtime.messages import FailureKind

log = logging.getLogger("ovserve.engine.images")
PROGRESS_LOG_SECONDS = 5.0


class Task:
    """One job's state, shared by the engine (which cancels and collects it) and the generation thread."""

    def __init__(self, key, job):
        self.key = key
        self.job = job
        self.cancelled = False  # set by the engine's thread; read by the pipeline's callback
        self.finished = threading.Event()
        self.result = None  # GeneratedImages or RequestFailure, once finished (None: it was cancelled)
        self.steps = 0  # as the step callback tells them while it runs; once finished, as the pipeline ran them
        self._started = self._last_log = 0.0

    def on_step(self, step, num_steps, latent):
        """The pipeline's callback after each denoising step: True stops the generation."""
        self.steps = step + 1
        now = time.monotonic()
        if now - self._last_log >= PROGRESS_LOG_SECONDS:
            self._last_log = now
            log.info("request %d: step %d of %d, %.1f s in", self.key, self.steps, num_steps, now - self._started)
        return self.cancelled

    def run(self, pipelines):
        self._started = self._last_log = time.monotonic()
        try:
            pixels, self.steps = run_job(pipelines, self.job, self.on_step)
            if self.cancelled:
                return
            if pixels is None:
                self.result = RequestFailure(FailureKind.ENGINE, "the pipeline returned no images")
            else:
                files = codec.encode(pixels, self.job.output_format)
                self.result = GeneratedImages(files, int(pixels.shape[2]), int(pixels.shape[1]), self.steps)
                log.info(
                    "request %d: %d image(s) of %dx%d, %d steps, in %.2f s",
                    self.key,
                    len(files),
                    pixels.shape[2],
                    pixels.shape[1],
                    self.steps,
                    time.monotonic() - self._started,
                )
        except RequestRejected as exc:
            self.result = RequestFailure(FailureKind.REJECTED, str(exc), exc.param)
        except Exception as exc:  # a job the model can't run fails its request, not the engine
            log.exception("request %d: generation failed", self.key)
            self.result = RequestFailure(FailureKind.ENGINE, describe(exc))
        finally:
            self.finished.set()


class GenerationThread:
    def __init__(self, pipelines):
        self._pipelines = pipelines
        self._inbox = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="image-generation", daemon=True).start()

    def start(self, task):
        self._inbox.put(task)

    def _loop(self):
        while True:
            self._inbox.get().run(self._pipelines)
