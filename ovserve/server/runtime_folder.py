"""The supervisor's private runtime folder (engine sockets, heartbeats, the drain file, metrics).

It is removed when the supervisor exits, but a supervisor killed with SIGKILL can't remove it: each
folder records its owner (pid and the process's start time, which tells a reused pid apart), and a
new supervisor removes the folders of owners that are gone. Only folders of ours are touched: named
ovserve-*, real directories (not links) of this user, with an owner file that names a dead process.
"""

import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

log = logging.getLogger("ovserve.supervisor")
PREFIX = "ovserve-"
OWNER_FILE = "owner"


def create_runtime_folder(parent=None):
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    os.chmod(folder, 0o700)
    (folder / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}")
    return folder


def remove_stale_runtime_folders(parent=None):
    """Remove the runtime folders left by supervisors that died without cleaning up; return them."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(PREFIX + "*"):
        if _is_stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info(
            "removed %d runtime folder(s) of servers that are gone: %s",
            len(removed),
            ", ".join(str(folder) for folder in removed),
        )
    return removed


def _is_stale(folder):
    try:
        status = folder.lstat()
        if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid():
            return False
        owner = (folder / OWNER_FILE).read_text()
    except OSError:  # not ours to read, or no owner file (being created, or made by an older ovserve)
        return False
    return not _owner_runs(owner)


def _owner_runs(owner):
    pid, _, start = owner.partition(" ")
    if not pid.isdigit():
        return True  # not an owner file we wrote: leave the folder
    try:
        return _start_time(int(pid)) == start
    except ProcessLookupError:
        return False
    except OSError:  # can't tell (/proc mounted with hidepid, another user's process): leave the folder
        return True


def _start_time(pid):
    """When process `pid` started, in clock ticks since boot ('' without /proc, where a pid is all there
    is); ProcessLookupError if no such process runs (a zombie, killed and not yet reaped, runs no more)."""
    if not os.path.isdir("/proc/self"):
        os.kill(pid, 0)
        return ""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    if fields[0] == "Z":
        raise ProcessLookupError(pid)
    return fields[19]
