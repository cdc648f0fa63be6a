"""Progress on stderr while the benchmark runs: a bar on a terminal, one line per run otherwise."""

import sys
import time

BAR_WIDTH = 24
REDRAW_INTERVAL_S = 0.1


class Progress:
    """`start_run` → `request_done`* → `finish_run(line)`, for each of `total_runs` runs.

    On a TTY the current run's bar is redrawn in place (at most 10 times a second) and replaced by
    the run's summary line when it ends; elsewhere (a log file, CI) only the summary lines are written.
    """

    def __init__(self, total_runs, out=None):
        self.out = out or sys.stderr
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        utf8 = (getattr(self.out, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self.full, self.empty = ("█", "·") if utf8 else ("#", ".")
        self.total_runs = total_runs
        self.run_number = 0
        self.label = ""
        self.requests = 0
        self.done = 0
        self.last_draw = 0.0

    def start_run(self, label, requests):
        self.run_number += 1
        self.label, self.requests, self.done = label, requests, 0
        self._draw(force=True)

    def request_done(self):
        self.done += 1
        self._draw(force=self.done == self.requests)

    def note(self, line):
        """A line of its own (a warning, a server start), not lost under the bar."""
        self._clear()
        print(line, file=self.out, flush=True)
        self._draw(force=True)

    def finish_run(self, line):
        self._clear()
        print(f"[{self.run_number}/{self.total_runs}] {line}", file=self.out, flush=True)
        self.label = ""

    def bar(self):
        filled = int(BAR_WIDTH * self.done / self.requests) if self.requests else 0
        return self.full * filled + self.empty * (BAR_WIDTH - filled)

    def _draw(self, force=False):
        if not self.tty or not self.label:
            return
        now = time.monotonic()
        if not force and now - self.last_draw < REDRAW_INTERVAL_S:
            return
        self.last_draw = now
        counts = f" {self.bar()} {self.done}/{self.requests} requests" if self.requests else " ..."
        self.out.write(f"\r\033[K[{self.run_number}/{self.total_runs}] {self.label}{counts}")
        self.out.flush()

    def _clear(self):
        if self.tty and self.label:
            self.out.write("\r\033[K")
            self.out.flush()
