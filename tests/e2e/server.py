"""Starting a real ovserve server (supervisor + engines + gunicorn/gevent) for end-to-end tests: the
launcher `ovserve bench --serve` uses too."""

import contextlib
import shutil
import tempfile
from pathlib import Path

from ovserve.server.launcher import LaunchedServer, free_port  # noqa: F401 (tests import free_port here)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "e2e"
STORE_OPTION = "--responses-store-dir"


class RunningServer(LaunchedServer):
    """A server started from the repository's root, as the tests' relative paths expect. Its Responses
    store lives in a temporary folder of its own (unless the test names one), never in the repository."""

    def __init__(self, config, *extra_args, log_path=None):
        self._store = None
        if STORE_OPTION not in extra_args:
            self._store = tempfile.mkdtemp(prefix="ovserve-responses-")
            extra_args = (*extra_args, STORE_OPTION, self._store)
        super().__init__(config, *extra_args, log_path=log_path, cwd=REPO)

    def stop(self, timeout=60):
        code = super().stop(timeout)
        if self._store:
            shutil.rmtree(self._store, ignore_errors=True)
        return code


@contextlib.contextmanager
def serving(config, *extra_args, log_path=None):
    """A RunningServer, ready; stopped at the end, when it must exit with code 0 (a module fixture's body)."""
    running = RunningServer(config, *extra_args, log_path=log_path)
    try:
        yield running.wait_ready()
    finally:
        code = running.stop()
        assert code == 0, f"server exited with {code}; log tail:\n{running.log_text()[-3000:]}"
