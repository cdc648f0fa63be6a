"""The engine side of the image-generation node: the pipelines of one model, stepped by the engine host.

Jobs from every HTTP worker wait here in arrival order and run one at a time on the generation thread
(runner.py): a diffusion pipeline takes one prompt per call, so concurrent requests can't share a
batch (a request's `n` images do). Each step hands the next job to the thread if it is free, and
waits a moment for the running one, so the host's loop turns (cancellations, heartbeat, stats) while
a generation runs for seconds. A cancelled job stops at its next denoising step.
"""

import collections
import logging

from ovserve.nodes.image_generation.messages import GeneratedImages
from ovserve.nodes.image_generation.pipelines import ImagePipelines
from ovserve.nodes.image_generation.runner import GenerationThread, Task
from ovserve.runtime.engine import Engine, EngineBusy

log = logging.getLogger("ovserve.engine.images")
# How long a step waits for the running generation: short enough for the loop to read a cancellation
# within a tenth of a second, long enough not to spin while a generation runs.
STEP_WAIT_SECONDS = 0.1


class ImageGenerationEngine(Engine):
    def __init__(self, options):
        super().__init__(options)
        plugin_config = {key: str(value) for key, value in options.get("plugin_config", {}).items()}
        self.pipelines = ImagePipelines(options["models_path"], options["device"], plugin_config, options["edits"])
        self.thread = GenerationThread(self.pipelines)  # from here on, only that thread touches the pipelines
        self.waiting = collections.OrderedDict()  # key -> Task
        self.running = None
        self.counts = {"requests": 0, "images": 0, "denoising_steps": 0, "cancelled": 0, "failed": 0}

    def info(self):
        return {"kind": "image_generation", "models_path": self.options["models_path"], **self.pipelines.info()}

    def submit(self, key, request):
        if len(self.waiting) >= self.options["max_queued_requests"]:
            raise EngineBusy(f"The server is at capacity ({len(self.waiting)} image requests queued); retry shortly.")
        self.waiting[key] = Task(key, request)

    def cancel(self, key):
        if self.waiting.pop(key, None) is not None:
            self.counts["cancelled"] += 1
        elif self.running is not None and self.running.key == key:
            self.running.cancelled = True  # the generation stops at its next step; step() drops its result

    def has_work(self):
        return self.running is not None or bool(self.waiting)

    def step(self):
        if self.running is None:
            _, self.running = self.waiting.popitem(last=False)
            self.thread.start(self.running)
        task = self.running
        if not task.finished.wait(STEP_WAIT_SECONDS):
            return []
        self.running = None
        self.counts["denoising_steps"] += task.steps * task.job.n
        if task.cancelled:
            self.counts["cancelled"] += 1
            log.info("request %d: cancelled after %d steps", task.key, task.steps)
            return []
        self.counts["requests"] += 1
        if isinstance(task.result, GeneratedImages):
            self.counts["images"] += len(task.result.images)
        else:
            self.counts["failed"] += 1
        return [(task.key, task.result, True)]

    def stats(self):
        return {
            "queued_requests": len(self.waiting),
            "running_requests": 0 if self.running is None else 1,
            "running_steps": 0 if self.running is None else self.running.steps,
            **self.counts,
        }
