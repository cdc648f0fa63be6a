"""The watch of the config file (`--file_system_poll_wait_seconds`, OVMS's flag): a reload when it changes.

It compares content, not only the modification time: an editor that rewrites the same bytes changes
nothing, and two writes within the file system's time resolution still differ in content. The graph
files the config names count too (a servable's new options live there).
"""

import hashlib
import time

from ovserve.config.loader import load_server_config
from ovserve.errors import ConfigError


def config_fingerprint(config_file, graph_files=()):
    digest = hashlib.sha256()
    for path in (config_file, *graph_files):
        try:
            with open(path, "rb") as handle:
                digest.update(handle.read())
        except OSError:
            digest.update(b"\0missing")
        digest.update(b"\0" + str(path).encode())
    return digest.hexdigest()


def _graph_files(config_file):
    try:
        return [spec.graph_file for spec in load_server_config(config_file).servables]
    except ConfigError:
        return []  # an invalid config: the reload that follows says why


class ConfigWatch:
    def __init__(self, config_file, poll_seconds):
        self.config_file = config_file
        self.poll_seconds = poll_seconds
        self._graphs = _graph_files(config_file)
        self._seen = config_fingerprint(config_file, self._graphs)
        self._next_check = time.monotonic() + poll_seconds

    def changed(self):
        """True once per change of the files (checked every poll_seconds)."""
        if not self.poll_seconds or time.monotonic() < self._next_check:
            return False
        self._next_check = time.monotonic() + self.poll_seconds
        fingerprint = config_fingerprint(self.config_file, self._graphs)
        if fingerprint == self._seen:
            return False
        self._graphs = _graph_files(self.config_file)
        self._seen = config_fingerprint(self.config_file, self._graphs)
        return True
