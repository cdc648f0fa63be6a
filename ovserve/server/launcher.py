"""An `ovserve serve` of our own, on a free loopback port: what `ovserve bench --serve` and the
end-to-end tests start.

The server runs in a session of its own (a stuck one is killed with its whole process group) and logs
to a file, whose tail comes with every failure.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


class ServerFailed(RuntimeError):
    """The server exited or did not become ready; the message carries its log's tail."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url, timeout):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


class LaunchedServer:
    """`ovserve serve --config CONFIG [ARGS]` on 127.0.0.1; `base` is its root URL, `url` its /v3 API."""

    def __init__(self, config, *extra_args, log_path=None, cwd=None, log=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/v3"
        self.say = log or (lambda line: None)
        self.log_path = (
            Path(log_path)
            if log_path
            else Path(tempfile.NamedTemporaryFile(prefix="ovserve-server-", suffix=".log", delete=False).name)
        )
        self._log = open(self.log_path, "wb")
        command = [
            sys.executable,
            "-m",
            "ovserve",
            "serve",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *extra_args,
        ]
        self.say(f"starting: {' '.join(command)} (log: {self.log_path})")
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def log_tail(self, size=3000):
        return self.log_text()[-size:]

    def wait_ready(self, timeout=240):
        """Poll GET /v2/health/ready until it answers 200; ServerFailed if the server exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"the server exited with code {self.process.returncode}; log tail:\n{self.log_tail()}"
                )
            if _status(self.base + "/v2/health/ready", timeout=2) == 200:
                return self
            time.sleep(0.3)
        raise ServerFailed(f"the server was not ready after {timeout:.0f} s; log tail:\n{self.log_tail()}")

    def child_pids(self):
        """Direct children of the supervisor (engines and the HTTP server), from /proc."""
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    children.append(int(entry.name))
        return children

    def engine_pid(self, label):
        """The pid of the engine process of `label` ("servable/node")."""
        for pid in self.child_pids():
            try:
                arguments = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"ovserve.runtime.engine_host" in arguments and label.encode() in arguments:
                return pid
        raise LookupError(f"no engine {label} under the supervisor {self.process.pid}")

    def stop(self, timeout=60):
        """SIGTERM (the supervisor stops its engines and HTTP workers), SIGKILL to its group if stuck; the
        exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.say("the server did not stop in time; killing its process group")
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        self.say(f"server stopped (exit code {self.process.returncode}; log: {self.log_path})")
        return self.process.returncode
