"""When to hold the next engine step for requests that are about to arrive.

A step can't take a request once it has begun, and on a CPU a step lasts 20 ms (decoding) to seconds
(a 256-token prefill chunk). Many clients send their next request as soon as the previous one ends:
an agent calling a model in a loop, a pipeline, a load generator's closed loop. Such a request
reaches the engine a few milliseconds after the answer it follows left, when the next step has
already started, and waits for all of it: measured at 8 and 32 streams, that wait was most of the
server's TTFT excess over the bare engine's (1.6-1.8x).

So the engine host may hold the next step briefly after a step that finished requests. Holding
costs throughput when nobody follows up, so the window is learned, not fixed: every request carries
the time its worker sent it, which tells how long after the latest finish it was sent, whether or not
the loop waited for it. The window is sized to cover the lags seen, and it is on while holding pays:
a follow-up it catches saves a step's wait (share × step time), a hold nobody answers costs the
window ((1 − share) × window). Traffic that doesn't follow up (independent arrivals) keeps it off,
and then it costs nothing.
"""

import collections
import math

MAX_WINDOW_SECONDS = 0.050
MIN_WINDOW_SECONDS = 0.002
# After a pause, a new session of clients starts from an even guess, not from how the last one ended
# (its last answers are never followed up: a closed loop that ends looks like clients that don't).
PAUSE_SECONDS = 2.0
NEUTRAL_SHARE = 0.5
# Below this share a hold is not worth its certain cost to throughput, whatever the steps it may save.
MIN_SHARE = 0.25
SMOOTHING = 0.2  # weight of the newest finish (or step) in the moving share (or step time)
LAGS_KEPT = 64
# Until a lag was seen (a fresh engine), a guess: measured lags were 5-20 ms with one HTTP worker.
FIRST_GUESS_LAG_SECONDS = 0.015
LAG_MARGIN = 1.25


class Finish:
    """One step's finished requests, and how many follow-ups (requests sent after them) came so far."""

    __slots__ = ("at", "count", "followed")

    def __init__(self, at, count):
        self.at = at
        self.count = count
        self.followed = 0


class FollowUpWindow:
    """Learns how often, and how soon, finished requests are followed by new ones.

    finished(count, now) after each step that finished requests (once their answers went out), which
    returns the Finish whose follow-ups to wait for; submitted(sent_at) for each new request, with its
    worker's send time (time.monotonic(), a clock shared by the processes of one machine);
    polled(started) after reading the sockets, all requests sent before `started` having been read;
    window() is how long to hold the next step.
    """

    def __init__(self, max_window=MAX_WINDOW_SECONDS):
        self.max_window = max_window
        self.followed_share = 0.0
        self.step_seconds = 0.0  # moving average of the step time
        self._finishes = collections.deque()  # oldest first
        self._lags = collections.deque(maxlen=LAGS_KEPT)
        self._last_finish_at = None

    def finished(self, count, now):
        finish = Finish(now, count)
        self._last_finish_at = now
        self._finishes.append(finish)
        return finish

    def submitted(self, sent_at, engine_idle=False):
        """Count a new request as a follow-up of the latest finish before it, if that was recent.

        `engine_idle`: no other request is running; after a pause the share restarts from an even guess.

        A request sent before a finish is no follow-up of it, even if the loop reads it only after
        that finish: it is a late follow-up of an earlier one (or none), and must not end a wait for
        the requests this finish will bring (measured: such late arrivals ended nearly every wait
        within 1 ms, and the real follow-ups, sent 5-15 ms later, missed the step)."""
        if engine_idle and (self._last_finish_at is None or sent_at - self._last_finish_at > PAUSE_SECONDS):
            self.followed_share = max(self.followed_share, NEUTRAL_SHARE)
        for finish in reversed(self._finishes):
            lag = sent_at - finish.at
            if lag < 0:
                continue
            if lag <= self.max_window and finish.followed < finish.count:
                finish.followed += 1
                self._lags.append(lag)
            return

    def stepped(self, seconds):
        """The duration of a step: what a follow-up that misses the next step waits, about."""
        self.step_seconds += SMOOTHING * (seconds - self.step_seconds)

    def window(self):
        """Seconds to hold the next step after a finish (0 when holding doesn't pay): enough for the
        slowest of the recent follow-ups. Holding ends as soon as they came (expected()), so a wide
        window costs only when fewer come than expected, which lowers the share."""
        slowest = max(self._lags) if self._lags else FIRST_GUESS_LAG_SECONDS
        size = min(self.max_window, max(MIN_WINDOW_SECONDS, slowest * LAG_MARGIN))
        share = self.followed_share
        if share < MIN_SHARE or share * self.step_seconds <= (1.0 - share) * size:
            return 0.0
        return size

    def expected(self, finished):
        """How many follow-ups `finished` requests should bring, by the share seen so far (rounded
        up: one more request waiting a whole step costs more than a hold ending at the window)."""
        return max(1, math.ceil(finished * self.followed_share - 1e-9))

    def polled(self, started):
        """Every request sent before `started` has been read: fold the finishes whose follow-up time
        ended before it into the moving share (not earlier: a request sent 10 ms after a finish may
        be read only after a prefill step of a second)."""
        while self._finishes and started - self._finishes[0].at > self.max_window:
            finish = self._finishes.popleft()
            self.followed_share += SMOOTHING * (finish.followed / finish.count - self.followed_share)
