"""`--serve CONFIG`: an `ovserve serve` of our own on a free port, for the length of the benchmark."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ovserve.bench.client import Endpoint, http_get


class ServerFailed(RuntimeError):
    """The server exited or did not become ready; the message carries its log's tail."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ManagedServer:
    """`ovserve serve --config CONFIG` on 127.0.0.1, in a session of its own, logging to a file."""

    def __init__(self, config, extra_args=(), log=print):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self.log = log
        self.log_file = tempfile.NamedTemporaryFile(prefix="ovserve-bench-server-", suffix=".log", delete=False)
        command = [sys.executable, "-m", "ovserve", "serve", "--config", str(config), "--host", "127.0.0.1",
                   "--port", str(self.port), *extra_args]
        log(f"starting: {' '.join(command)} (log: {self.log_file.name})")
        self.process = subprocess.Popen(command, stdout=self.log_file, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, size=3000):
        return Path(self.log_file.name).read_text(errors="replace")[-size:]

    def wait_ready(self, timeout):
        """Poll GET /v2/health/ready until it answers 200; ServerFailed if the server exits or times out."""
        endpoint = Endpoint(self.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"the server exited with code {self.process.returncode}; "
                                   f"log tail:\n{self.log_tail()}")
            if http_get(endpoint, "/v2/health/ready", timeout=2)[0] == 200:
                return
            time.sleep(0.5)
        raise ServerFailed(f"the server was not ready after {timeout:.0f} s; log tail:\n{self.log_tail()}")

    def stop(self, timeout=60):
        """SIGTERM (the supervisor stops its engines and HTTP workers), SIGKILL to its group if stuck."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.log("the server did not stop in time; killing its process group")
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log_file.close()
        self.log(f"server stopped (exit code {self.process.returncode}; log: {self.log_file.name})")
