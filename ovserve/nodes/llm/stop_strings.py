"""Cutting output at stop strings without ever leaking part of one in a stream.

Text that could be the start of a stop string is held back until the next delta proves it is not;
a stop string found anywhere (even across several deltas) ends the output before it.
"""


class StopStringMatcher:
    def __init__(self, stop_strings, include_stop_string=False):
        self._stops = [s for s in stop_strings if s]
        self._include = include_stop_string
        self._held = ""
        self.stopped = False
        self.matched = None  # the stop string that stopped the output

    def feed(self, text):
        """Return the text that is safe to emit now; sets `stopped` when a stop string appeared."""
        if self.stopped:
            return ""
        if not self._stops:
            return text
        pending = self._held + text
        first = None
        for stop in self._stops:
            position = pending.find(stop)
            if position != -1 and (first is None or position < first[0]):
                first = (position, stop)
        if first is not None:
            self.stopped = True
            self._held = ""
            position, stop = first
            self.matched = stop
            return pending[: position + len(stop)] if self._include else pending[:position]
        keep = self._longest_partial_suffix(pending)
        self._held = pending[len(pending) - keep :] if keep else ""
        return pending[: len(pending) - keep]

    def flush(self):
        """At the end of generation, held-back text was not a stop string after all."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _longest_partial_suffix(self, text):
        longest = 0
        for stop in self._stops:
            for length in range(min(len(stop) - 1, len(text)), longest, -1):
                if stop.startswith(text[-length:]):
                    longest = length
                    break
        return longest
