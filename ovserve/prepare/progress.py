"""Progress lines for long preparation steps: what runs, and that it still runs."""

import sys
import threading
import time


class Step:
    """Prints '[n/N] what' on entry, 'still working (Ns)' after each quiet `interval`, and the time taken."""

    def __init__(self, number, total, what, out=sys.stderr, interval=15.0):
        self.label = f"[{number}/{total}] {what}"
        self.out = out
        self.interval = interval
        self.started = None
        self.last_output = None
        self._done = threading.Event()
        self._ticker = None

    def __enter__(self):
        self.started = self.last_output = time.monotonic()
        print(self.label, file=self.out, flush=True)
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()
        return self

    def echo(self, line):
        """Pass on a line of a tool's own output, indented under the step."""
        self.last_output = time.monotonic()
        print(f"      {line.rstrip()}", file=self.out, flush=True)

    def _tick(self):
        while not self._done.wait(1.0):
            now = time.monotonic()
            if now - self.last_output >= self.interval:
                self.last_output = now
                print(f"      ... still working ({now - self.started:.0f} s)", file=self.out, flush=True)

    def __exit__(self, kind, value, traceback):
        self._done.set()
        self._ticker.join()
        outcome = "done" if kind is None else "failed"
        print(f"      {outcome} in {time.monotonic() - self.started:.1f} s", file=self.out, flush=True)
        return False
