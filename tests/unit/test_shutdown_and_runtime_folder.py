"""The supervisor's side of a shutdown and of its runtime folder (no engine, no server process)."""

import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from ovserve.server import runtime_folder
from ovserve.server import supervisor as supervisor_module
from ovserve.server.runtime_folder import OWNER_FILE, create_runtime_folder, remove_stale_runtime_folders
from ovserve.server.supervisor import Supervisor


class FakeHttpServer:
    """The gunicorn process as the supervisor sees it: running until it gets SIGTERM."""

    returncode = None

    def poll(self):
        return self.returncode

    def send_signal(self, signum):
        self.returncode = 0

    def wait(self, timeout=None):
        return self.returncode


def test_sigterm_turns_readiness_503_in_the_signal_handler_itself(tmp_path):
    """The main loop notices the stop only at its next poll (every 0.2 s): readiness answered 200 until then."""
    supervisor = Supervisor("unused.json", "127.0.0.1", 0)
    supervisor.drain_file, supervisor.http = str(tmp_path / "draining"), FakeHttpServer()
    supervisor._request_stop(signal.SIGTERM, None)
    assert os.path.exists(supervisor.drain_file) and supervisor.stopping


def test_drain_lasts_drain_seconds_from_the_signal_not_from_the_next_poll(tmp_path, monkeypatch):
    supervisor = Supervisor("unused.json", "127.0.0.1", 0, drain_seconds=3.0)
    supervisor.drain_file, supervisor.http = str(tmp_path / "draining"), FakeHttpServer()
    clock = SimpleNamespace(now=100.0, slept=[])
    monkeypatch.setattr(
        supervisor_module, "time", SimpleNamespace(monotonic=lambda: clock.now, sleep=clock.slept.append)
    )
    supervisor._request_stop(signal.SIGTERM, None)
    clock.now += 0.2  # the main loop's next poll
    supervisor._stop_all()
    assert clock.slept == [pytest.approx(2.8)] and supervisor.http.returncode == 0


def test_no_drain_file_before_the_http_server_runs(tmp_path):
    supervisor = Supervisor("unused.json", "127.0.0.1", 0)
    supervisor.drain_file = str(tmp_path / "draining")
    supervisor._request_stop(signal.SIGINT, None)
    assert not os.path.exists(supervisor.drain_file) and supervisor.stopping


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def folder_with_owner(parent, name, owner):
    folder = parent / name
    (folder / "metrics").mkdir(parents=True)
    (folder / "engine-0.sock.heartbeat").write_text("")
    if owner is not None:
        (folder / OWNER_FILE).write_text(owner)
    return folder


def test_runtime_folder_is_private_and_names_its_owner(tmp_path):
    folder = create_runtime_folder(tmp_path)
    assert folder.name.startswith("ovserve-") and folder.stat().st_mode & 0o777 == 0o700
    pid, start = (folder / OWNER_FILE).read_text().split(" ")
    assert int(pid) == os.getpid() and start == runtime_folder._start_time(os.getpid())
    assert remove_stale_runtime_folders(tmp_path) == [] and folder.exists()


def test_only_folders_of_dead_owners_are_removed(tmp_path):
    own_start = runtime_folder._start_time(os.getpid())
    dead = folder_with_owner(tmp_path, "ovserve-dead", f"{dead_pid()} 12345")
    reused = folder_with_owner(tmp_path, "ovserve-reused", f"{os.getpid()} {int(own_start) + 1}")  # the pid, later
    alive = folder_with_owner(tmp_path, "ovserve-alive", f"{os.getpid()} {own_start}")
    ownerless = folder_with_owner(tmp_path, "ovserve-ownerless", None)  # being created, or an older ovserve's
    garbled = folder_with_owner(tmp_path, "ovserve-garbled", "not a pid")
    other = folder_with_owner(tmp_path, "other-dead", f"{dead_pid()} 1")
    (tmp_path / "ovserve-link").symlink_to(dead, target_is_directory=True)
    assert sorted(remove_stale_runtime_folders(tmp_path)) == sorted([dead, reused])
    assert not dead.exists() and not reused.exists()
    assert all(folder.exists() for folder in (alive, ownerless, garbled, other))


def test_a_zombie_owner_is_gone(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    start = runtime_folder._start_time(child.pid)
    child.stdin.close()  # it exits
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
        folder = folder_with_owner(tmp_path, "ovserve-zombie", f"{child.pid} {start}")
        assert remove_stale_runtime_folders(tmp_path) == [folder]
    finally:
        child.wait()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a folder of another user")
def test_folders_of_other_users_are_left(tmp_path):
    folder = folder_with_owner(tmp_path, "ovserve-theirs", f"{dead_pid()} 1")
    os.chown(folder, 65534, 65534)
    assert remove_stale_runtime_folders(tmp_path) == [] and folder.exists()
