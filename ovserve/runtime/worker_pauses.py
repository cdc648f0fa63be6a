"""When this worker's own event loop last stood still, so that an engine is not blamed for it.

An engine connection fails its waiting requests when the engine has been silent for
bridge.STALE_ENGINE_SECONDS. That silence is measured here, in the worker, by when the worker last read
something from the engine. If the worker itself could not run (a tokenizer load holding the GIL for
10-13 s, a machine that stalled the whole process), the engine's messages sit unread in the socket and
the worker, on waking, would see a silence that was its own. A greenlet ticking every TICK_SECONDS
tells the two apart: a tick that comes PAUSE_SECONDS late means the loop stood still, and silence is
then counted again from the moment it ran again (the reader gets the buffered messages within a turn).
"""

import time

import gevent

TICK_SECONDS = 0.25
# Late by this much, the loop stood still (a busy worker's turns take milliseconds; a step-length stall
# of the hub would already be a fault of its own).
PAUSE_SECONDS = 1.0


class WorkerPauses:
    """The ticking greenlet of one worker (started on first use, in the thread that owns the hub)."""

    def __init__(self):
        self._last_tick = time.monotonic()
        self._resumed_at = 0.0
        self._ticker = None

    def start(self):
        if self._ticker is None:
            self._last_tick = time.monotonic()
            self._ticker = gevent.spawn(self._tick)

    def stop(self):
        if self._ticker is not None:
            self._ticker.kill(block=False)
            self._ticker = None

    def _tick(self):
        while True:
            gevent.sleep(TICK_SECONDS)
            self.note_turn()

    def note_turn(self):
        """Record that the loop ran now (the ticker does, every TICK_SECONDS); a late turn is a pause."""
        now = time.monotonic()
        if now - self._last_tick > TICK_SECONDS + PAUSE_SECONDS:
            self._resumed_at = now
        self._last_tick = now

    def not_hearing_since(self):
        """The latest moment from which this worker could have heard its engines: the end of its last pause,
        or now while a pause is still under way (the ticker has not run yet after it)."""
        now = time.monotonic()
        if now - self._last_tick > TICK_SECONDS + PAUSE_SECONDS:
            return now
        return self._resumed_at


WORKER_PAUSES = WorkerPauses()
