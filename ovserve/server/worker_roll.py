"""Replacing the HTTP workers one at a time, for a plan that a serving worker can't load without a pause.

Loading a model's tokenizer holds a worker's GIL for seconds (a GGUF's: 3 s on an idle machine, 10-13 s
under load), and while it does, every stream of that worker stands still. So a worker that would have to
load one (Servable.load_would_pause_worker) does not take the new plan: it says so in its report
(`replace_for`) and goes on serving its own generation. The supervisor then replaces the workers:
gunicorn's master adds a worker on SIGTTIN, and on SIGTTOU stops its oldest one gracefully (it takes no
new connection, closes kept-alive ones after their current request, and finishes its requests, streams
included, within the graceful timeout). A fresh worker loads the whole current plan in its own process
before it takes connections, so nothing of the serving workers waits for it. First every leaving worker
gets a successor (gunicorn counts a worker that is stopping until it exited, so a SIGTTIN after a SIGTTOU
would wait for that exit: for the graceful timeout, when the stopping worker holds a reload's answer);
once they all serve the generation, the same number of oldest workers stop. One signal per turn of the
supervisor's loop (0.2 s), so that none is merged with the one before.
"""

import logging
import os
import signal
import time

log = logging.getLogger("ovserve.supervisor")
# A fresh worker loads every servable's worker side; past this, the roll says so in the log (and waits on).
SLOW_FRESH_WORKER_SECONDS = 120.0
# A stopped gevent worker closes its listener at its next turn (gunicorn's worker loop sleeps 1 s): until
# then it may still take a new connection and answer it with the old plan.
LISTENER_CLOSE_SECONDS = 2.0
# How long the first worker that leaves a plan waits for the others to decide too (they poll every 0.5 s).
DECISION_WAIT_SECONDS = 3.0


class WorkerRoll:
    """The supervisor's side of it, for the server's life: which workers asked to be replaced, and the
    replacement under way."""

    def __init__(self, master_pid, send_signal=os.kill):
        self.master_pid = master_pid
        self.leaving = set()  # workers that asked to be replaced (each gets one successor)
        self.owed = 0  # of them, those without a successor yet
        self.generation = 0  # the generation successors must serve: the latest one a worker left
        self.batch = 0  # successors asked for in the replacement under way
        self.added = 0  # SIGTTINs sent for it
        self.stopped = 0  # SIGTTOUs sent for it
        self.there_before = set()  # the workers alive when it began: none of them is a successor
        self.started_at = None
        self._first_leaving_seen = 0.0
        self.stopped_at = 0.0  # when the latest SIGTTOU went
        self._send_signal = send_signal
        self._warned = False

    @property
    def under_way(self):
        return self.owed > 0

    @property
    def successors_serve(self):
        """Every leaving worker seen so far has a successor serving the generation, and has stopped taking
        connections (it may still be finishing its requests)."""
        return self.owed == 0 and time.monotonic() - self.stopped_at >= LISTENER_CLOSE_SECONDS

    def advance(self, reports, generation):
        """One turn of the supervisor's loop, with the reports of the workers alive now and the generation of
        the plan published last."""
        for report in reports:
            if report.replace_for > report.generation and report.pid not in self.leaving:
                if not self.owed:
                    self._first_leaving_seen = time.monotonic()
                self.leaving.add(report.pid)
                self.owed += 1
            if report.pid in self.leaving:
                self.generation = max(self.generation, report.replace_for)
        if not self.owed:
            return
        if not self.batch:
            undecided = [r for r in reports if max(r.generation, r.replace_for) < generation]
            if undecided and time.monotonic() - self._first_leaving_seen < DECISION_WAIT_SECONDS:
                return  # the others are still reading the plan (each polls it every 0.5 s): one batch for all
            self.batch, self.added, self.stopped = self.owed, 0, 0
            self.there_before = {report.pid for report in reports}
            self.started_at = time.monotonic()
            log.info("starting %d fresh HTTP worker(s) for generation %d of the plan", self.batch, self.generation)
        if self.added < self.batch:
            self._send_signal(self.master_pid, signal.SIGTTIN)
            self.added += 1
            return
        if self.stopped == 0:
            fresh = [r for r in reports if r.pid not in self.there_before and r.generation >= self.generation]
            if len(fresh) < self.batch:
                self._warn_if_slow()
                return
        self._send_signal(self.master_pid, signal.SIGTTOU)  # gunicorn stops its oldest worker, gracefully
        self.stopped += 1
        self.stopped_at = time.monotonic()
        if self.stopped == self.batch:
            self.owed -= self.batch
            self.batch = 0
            self._warned = False
            log.info("HTTP workers replaced: the fresh ones serve generation %d of the plan", self.generation)

    def _warn_if_slow(self):
        if not self._warned and time.monotonic() - self.started_at > SLOW_FRESH_WORKER_SECONDS:
            self._warned = True
            log.warning(
                "the fresh HTTP workers have not served generation %d within %.0f s; the old ones serve meanwhile",
                self.generation,
                SLOW_FRESH_WORKER_SECONDS,
            )
