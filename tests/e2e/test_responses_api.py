"""OpenAI's Responses API end to end: POST /v3/responses (unary, streamed, structured), the store behind
previous_response_id and GET/DELETE /v3/responses/{id}, shared by two HTTP workers, driven with the
official openai client, the openai-agents SDK and raw HTTP. The default servable is a 135M model: the
tests check shapes and flow, not wisdom."""

import contextlib
import io
import json
import re
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from openai import AsyncOpenAI, NotFoundError, OpenAI
from prometheus_client import multiprocess
from pydantic import BaseModel, Field

from tests.e2e.conftest import DEFAULT_MODEL
from tests.e2e.server import FIXTURES, REPO, RunningServer
from tests.e2e.test_disconnect_and_batching import wait_until_idle
from tests.e2e.test_metrics import gunicorn_master, metrics_folder

DOCS_ADDRESS = "http://localhost:8000"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}


@pytest.fixture(scope="module")
def responses_server(tmp_path_factory):
    """Two HTTP workers over one store folder of the test's own."""
    folder = tmp_path_factory.mktemp("responses")
    running = RunningServer(
        FIXTURES / "single.json",
        "--workers",
        "2",
        "--responses-store-dir",
        str(folder / "store"),
        log_path=folder / "server.log",
    )
    try:
        yield running.wait_ready()
    finally:
        code = running.stop()
        assert code == 0, f"server exited with {code}; log tail:\n{running.log_tail()}"


@pytest.fixture(scope="module")
def api(responses_server):
    return OpenAI(base_url=responses_server.url, api_key="unused", max_retries=0, timeout=120)


def test_string_input_gives_a_response_object(api):
    response = api.responses.create(model=DEFAULT_MODEL, input="Say hello.", max_output_tokens=16)
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status in ("completed", "incomplete")
    message = [item for item in response.output if item.type == "message"][0]
    assert message.id.startswith("msg_") and message.role == "assistant"
    assert response.output_text == message.content[0].text and response.output_text
    usage = response.usage
    assert usage.input_tokens > 0 and 0 < usage.output_tokens <= 16
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_items_and_instructions_reach_the_prompt_and_max_output_tokens_cuts(api):
    response = api.responses.create(
        model=DEFAULT_MODEL,
        instructions="You are a pirate.",
        input=[
            {"role": "user", "content": "Hi!"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Ahoy."}]},
            {"role": "user", "content": [{"type": "input_text", "text": "Write a very long story about the sea."}]},
        ],
        max_output_tokens=3,
        metadata={"suite": "e2e"},
    )
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 3
    assert response.instructions == "You are a pirate." and response.metadata == {"suite": "e2e"}
    assert response.max_output_tokens == 3
    items = api.responses.input_items.list(response.id, order="asc").data
    assert [item.role for item in items] == ["user", "assistant", "user"]  # the instructions are not items


def test_stream_helper_assembles_the_final_response(api):
    # The helper gives a final response on response.completed only, not response.incomplete: the answer must
    # end before max_output_tokens, whatever the model, so a short JSON object is all it may write (a free
    # "Say hi." at the default temperature once ran past 256 tokens).
    short = {"type": "object", "properties": {"greeting": {"type": "string", "maxLength": 20}}}
    short.update(required=["greeting"], additionalProperties=False)
    text = {"format": {"type": "json_schema", "name": "greeting", "schema": short, "strict": True}}
    with api.responses.stream(model=DEFAULT_MODEL, input="Say hi.", max_output_tokens=256, text=text) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas and final.output_text == deltas
    assert api.responses.retrieve(final.id).output_text == deltas  # stored when it completed


def test_parse_gives_an_instance_of_the_model(api):
    class City(BaseModel):
        # Bounded strings: a tiny model's unbounded string (or integer's digits) may run past the limit.
        name: str = Field(max_length=24)
        country: str = Field(max_length=24)

    response = api.responses.parse(
        model=DEFAULT_MODEL, input="Describe Paris as JSON.", text_format=City, max_output_tokens=200
    )
    assert response.status == "completed"
    assert isinstance(response.output_parsed, City)


def test_function_tool_round_trip_through_previous_response_id(api):
    first = api.responses.create(
        model=DEFAULT_MODEL,
        input="What is the weather in Paris?",
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_output_tokens=64,
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls and calls[0].name == "get_weather" and calls[0].id.startswith("fc_")
    assert isinstance(json.loads(calls[0].arguments), dict)
    second = api.responses.create(
        model=DEFAULT_MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "Sunny, 24 C"}],
        tools=[WEATHER_TOOL],
        max_output_tokens=32,
    )
    assert second.previous_response_id == first.id and second.output
    items = api.responses.input_items.list(second.id, order="asc").data
    assert [item.type for item in items] == ["message", "function_call", "function_call_output"]
    assert items[1].call_id == calls[0].call_id and items[2].output == "Sunny, 24 C"
    assert second.usage.input_tokens > first.usage.input_tokens  # the stored conversation reached the prompt


def test_get_delete_and_not_found(api, responses_server):
    response = api.responses.create(model=DEFAULT_MODEL, input="Hi", max_output_tokens=4)
    assert api.responses.retrieve(response.id).id == response.id
    deleted = requests.delete(f"{responses_server.url}/responses/{response.id}", timeout=30).json()
    assert deleted == {"id": response.id, "object": "response", "deleted": True}
    for call in (
        lambda: api.responses.retrieve(response.id),
        lambda: api.responses.input_items.list(response.id),
        lambda: api.responses.create(model=DEFAULT_MODEL, input="Hi", previous_response_id="resp_unknown"),
    ):
        with pytest.raises(NotFoundError) as raised:
            call()
        assert set(raised.value.body) >= {"message", "type", "param", "code"}
    unstored = api.responses.create(model=DEFAULT_MODEL, input="Hi", max_output_tokens=4, store=False)
    assert unstored.store is False
    assert requests.get(f"{responses_server.url}/responses/{unstored.id}", timeout=30).status_code == 404


def test_refused_fields_get_a_400_naming_them(responses_server):
    cases = {
        "tools[0].type": {"tools": [{"type": "web_search"}]},
        "input[0].content[0].image_url": {"input": [{"role": "user", "content": [{"type": "input_image"}]}]},
        "truncation": {"truncation": "auto"},
        "background": {"background": True},
        "include[0]": {"include": ["reasoning.encrypted_content"]},
    }
    for param, fields in cases.items():
        body = {"model": DEFAULT_MODEL, "input": "Hi", **fields}
        answer = requests.post(f"{responses_server.url}/responses", json=body, timeout=30)
        assert answer.status_code == 400 and answer.json()["error"]["param"] == param, answer.text


def responses_by_worker(folder):
    """{pid: successful Responses requests} from each HTTP worker's own metrics file."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        for family in multiprocess.MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == "ovms_requests_success_total" and sample.labels.get("method") == "Responses":
                    pid = int(path.stem.split("_")[1])
                    counts[pid] = counts.get(pid, 0) + sample.value
    return counts


def test_the_store_is_shared_by_both_workers(api, responses_server):
    """Responses created on both workers (their metrics say so), each continued and read from fresh
    connections, which the kernel hands to either worker: with a store per worker, about half would 404."""
    folder = metrics_folder(gunicorn_master(responses_server))

    def create(previous=None):
        with OpenAI(base_url=responses_server.url, api_key="unused", max_retries=0, timeout=120) as fresh:
            return fresh.responses.create(
                model=DEFAULT_MODEL, input="Hi", max_output_tokens=2, previous_response_id=previous
            ).id

    ids = []
    with ThreadPoolExecutor(8) as pool:
        for _ in range(6):  # until both workers served some
            ids += list(pool.map(lambda _: create(), range(8)))
            if len([count for count in responses_by_worker(folder).values() if count]) >= 2:
                break
        assert len([count for count in responses_by_worker(folder).values() if count]) == 2
        continued = list(pool.map(create, ids))
    assert len(continued) == len(ids)
    for response_id in continued:
        answer = requests.get(f"{responses_server.url}/responses/{response_id}", headers={"Connection": "close"})
        assert answer.status_code == 200 and answer.json()["previous_response_id"] in ids


def test_client_disconnect_cancels_the_generation(responses_server):
    http = requests.Session()
    wait_until_idle(http, responses_server.base)
    body = json.dumps(
        {
            "model": DEFAULT_MODEL,
            "input": "Write a very long story about the sea.",
            "stream": True,
            "max_output_tokens": 2000,
        }
    ).encode()
    sock = socket.create_connection(("127.0.0.1", responses_server.port))
    sock.sendall(
        b"POST /v3/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    received = b""
    while received.count(b"response.output_text.delta") < 3:
        data = sock.recv(65536)
        assert data, "the server closed the stream early"
        received += data
    response_id = json.loads(received.split(b"data: ", 1)[1].split(b"\n", 1)[0])["response"]["id"]
    sock.close()
    # Without cancellation this request would run for 2000 tokens (tens of seconds).
    wait_until_idle(http, responses_server.base, timeout=15)
    assert http.get(f"{responses_server.url}/responses/{response_id}", timeout=30).status_code == 404


def test_openai_agents_sdk_runs_a_tool_and_answers(responses_server):
    from agents import (
        Agent,
        ModelSettings,
        RunConfig,
        Runner,
        function_tool,
        set_default_openai_client,
        set_tracing_disabled,
    )
    from agents.models.multi_provider import MultiProvider

    ran = []

    @function_tool
    def get_weather(city: str) -> str:
        """The current weather of a city."""
        ran.append(city)
        return f"Sunny in {city}."

    set_tracing_disabled(True)
    set_default_openai_client(AsyncOpenAI(base_url=responses_server.url, api_key="unused", max_retries=0))
    agent = Agent(
        name="weather",
        instructions="Answer with the weather tool.",
        model=DEFAULT_MODEL,
        tools=[get_weather],
        model_settings=ModelSettings(tool_choice="required", max_tokens=48),
    )
    # The model's name has a '/', which the SDK would read as a provider prefix.
    config = RunConfig(model_provider=MultiProvider(unknown_prefix_mode="model_id"))
    result = Runner.run_sync(agent, "What is the weather in Paris?", run_config=config, max_turns=6)
    assert ran, "the tool never ran"
    assert isinstance(result.final_output, str)


def test_the_documented_examples_run(responses_server):
    """docs/api.md's Responses curl and SDK example, as written but for the address (test_readme_snippets)."""
    section = (REPO / "docs" / "api.md").read_text().split("\n## Responses\n", 1)[1].split("\n## ", 1)[0]
    (curl,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    (snippet,) = re.findall(r"```python\n(.*?)```", section, re.S)
    url = re.search(r"curl (\S+)", curl).group(1).replace(DOCS_ADDRESS, responses_server.base)
    payload = re.search(r"-d '(.*?)'", curl, re.S).group(1)
    answer = requests.post(url, data=payload, headers={"Content-Type": "application/json"}, timeout=120)
    assert answer.status_code == 200 and answer.json()["object"] == "response", answer.text
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet.replace(DOCS_ADDRESS, responses_server.base), "docs/api.md", "exec"), {})
    assert printed.getvalue().strip()
