"""Starting a real ovserve server (supervisor + engines + gunicorn/gevent) for end-to-end tests: the
launcher `ovserve bench --serve` uses too."""

from pathlib import Path

from ovserve.server.launcher import LaunchedServer, free_port  # noqa: F401 (tests import free_port here)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "e2e"


class RunningServer(LaunchedServer):
    """A server started from the repository's root, as the tests' relative paths expect."""

    def __init__(self, config, *extra_args, log_path=None):
        super().__init__(config, *extra_args, log_path=log_path, cwd=REPO)
