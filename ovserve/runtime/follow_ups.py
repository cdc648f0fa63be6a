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
the loop waited for it. Finishes that are followed up within MAX_WINDOW_SECONDS by as many new
requests, most of the time, turn the window on, sized to cover the lags seen; traffic that doesn't
follow up (independent arrivals) turns it off, and it costs nothing.
"""

import collections

MAX_WINDOW_SECONDS = 0.050
MIN_WINDOW_SECONDS = 0.002
ON_RATIO = 0.5  # the share of finishes followed up, above which the loop waits
SMOOTHING = 0.2  # weight of the newest finish in the moving share
LAGS_KEPT = 64
LAG_MARGIN = 1.25


class FollowUpWindow:
    """Learns how often, and how soon, finished requests are followed by new ones.

    finished(count, now) after each step that finished requests (once their answers went out);
    submitted(sent_at) for each new request, with its worker's send time (time.monotonic(), a
    clock shared by the processes of one machine); polled(started) after reading the sockets, all
    requests sent before `started` having been read; window() is how long to hold the next step.
    """

    def __init__(self, max_window=MAX_WINDOW_SECONDS):
        self.max_window = max_window
        self.followed_share = 0.0
        self._finishes = collections.deque()  # [time, finished count, follow-ups seen], oldest first
        self._lags = collections.deque(maxlen=LAGS_KEPT)

    def finished(self, count, now):
        self._finishes.append([now, count, 0])

    def submitted(self, sent_at):
        """Count a new request as a follow-up of the latest finish before it, if that was recent."""
        for finish in reversed(self._finishes):
            lag = sent_at - finish[0]
            if lag < 0:
                continue
            if lag <= self.max_window and finish[2] < finish[1]:
                finish[2] += 1
                self._lags.append(lag)
            return

    def window(self):
        """Seconds to hold the next step after a finish (0 when clients don't follow up): enough for
        the slowest of the recent follow-ups. Holding ends as soon as they came (expected()), so a
        wide window costs only when fewer come than expected, which lowers the share."""
        if self.followed_share < ON_RATIO or not self._lags:
            return 0.0
        return min(self.max_window, max(MIN_WINDOW_SECONDS, max(self._lags) * LAG_MARGIN))

    def expected(self, finished):
        """How many follow-ups `finished` requests should bring, by the share seen so far."""
        return max(1, round(finished * self.followed_share))

    def polled(self, started):
        """Every request sent before `started` has been read: fold the finishes whose follow-up time
        ended before it into the moving share (not earlier: a request sent 10 ms after a finish may
        be read only after a prefill step of a second)."""
        while self._finishes and started - self._finishes[0][0] > self.max_window:
            _, count, followed = self._finishes.popleft()
            self.followed_share += SMOOTHING * (followed / count - self.followed_share)
