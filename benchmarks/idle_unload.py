"""Idle unload and lazy load, measured on a real server: seconds to unload, seconds until a request is
answered again, and the RSS of the server's processes before and after.

    .venv/bin/python -m benchmarks.idle_unload [--idle-seconds 3]

A config in a temporary folder serves the default model and the deterministic fixture with
`idle_unload_seconds`; the script waits for the unload (GET /v1/config says END), sends a chat, and
prints the numbers. Not a test: the numbers depend on the machine.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import requests

from ovserve.server.launcher import LaunchedServer

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "e2e"
IDLE = "smollm2-idle"


def rss_mib(pids):
    total = 0
    for pid in pids:
        try:
            for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def tree(root):
    """`root` and every process below it."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


def state(base):
    return requests.get(base + "/v1/config", timeout=30).json()[IDLE]["model_version_status"][0]["state"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ovserve-idle-"))
    config = {
        "servables": [
            {"name": "HuggingFaceTB/SmolLM2-135M-Instruct", "base_path": str(REPO / "servables" / "smollm2")},
            {
                "name": IDLE,
                "base_path": str(FIXTURES / "servables" / "deterministic"),
                "idle_unload_seconds": args.idle_seconds,
            },
        ],
        "plugin_paths": [str(REPO / "plugins")],
    }
    (folder / "config.json").write_text(json.dumps(config))
    server = LaunchedServer(folder / "config.json", log_path=folder / "server.log", cwd=REPO)
    try:
        server.wait_ready()
        ready_at = time.monotonic()
        before = rss_mib(tree(server.process.pid))
        while state(server.base) != "END":
            time.sleep(0.1)
        unloaded_after = time.monotonic() - ready_at
        time.sleep(1)  # the engine's exit
        after = rss_mib(tree(server.process.pid))
        started = time.monotonic()
        response = requests.post(
            server.base + "/v3/chat/completions",
            json={"model": IDLE, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8},
            timeout=120,
        )
        answered_after = time.monotonic() - started
        reloaded = rss_mib(tree(server.process.pid))
        print(f"idle_unload_seconds: {args.idle_seconds}")
        print(f"unloaded {unloaded_after:.1f} s after the server was ready (the setting plus the poll)")
        print(f"request to the unloaded servable answered ({response.status_code}) after {answered_after:.1f} s")
        print(
            f"RSS of the server's processes: {before:.0f} MiB loaded, {after:.0f} MiB unloaded, {reloaded:.0f} MiB again"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
