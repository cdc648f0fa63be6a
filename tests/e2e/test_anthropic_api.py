"""Anthropic's Messages API on the real server, through the official `anthropic` SDK and raw HTTP.

The default servable (SmolLM2-135M) is tiny: tests assert on shape and flow; generated text is compared
only on the deterministic servable.
"""

import contextlib
import io
import json
import re
import socket

import anthropic
import jsonschema
import pytest
import requests

from tests.e2e.conftest import DEFAULT_MODEL, DETERMINISTIC_MODEL
from tests.e2e.server import FIXTURES, REPO, RunningServer
from tests.e2e.test_disconnect_and_batching import wait_until_idle
from tests.e2e.test_metrics import scrape, value

MESSAGES = "/v1/messages"
HELLO = [{"role": "user", "content": "Hello! Who are you?"}]
# The chat tests' weather tools, as Anthropic declares tools.
TOOLS = [
    {
        "name": t["function"]["name"],
        "description": t["function"]["description"],
        "input_schema": t["function"]["parameters"],
    }
    for t in json.loads((FIXTURES / "payloads/weather_tool.json").read_text())
]
KEY = "sk-anthropic-test-0123"


@pytest.fixture(scope="module")
def claude(server):
    return anthropic.Anthropic(base_url=server.base, api_key="unused", max_retries=0, timeout=120)


def assert_anthropic_error(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert payload["type"] == "error" and set(payload["error"]) == {"type", "message"}, payload
    assert payload["error"]["message"] and "Traceback" not in payload["error"]["message"]
    return payload["error"]


def named_events(response):
    """[(event name, payload)] of an Anthropic SSE response, read as it arrives."""
    events, name = [], None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            payload = json.loads(line.removeprefix("data: "))
            assert payload["type"] == name
            events.append((name, payload))
    return events


def test_create_with_a_system_prompt(claude):
    message = claude.messages.create(
        model=DEFAULT_MODEL, max_tokens=24, system="You answer in one sentence.", messages=HELLO
    )
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message.model == DEFAULT_MODEL
    assert [block.type for block in message.content] == ["text"] and message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens") and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and 0 < message.usage.output_tokens <= 24


def test_max_tokens_ends_with_stop_reason_max_tokens(claude):
    long = [{"role": "user", "content": "Write a long story about the sea."}]
    message = claude.messages.create(model=DEFAULT_MODEL, max_tokens=3, messages=long)
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 3


def test_stop_sequences_end_the_answer_and_are_reported(claude):
    question = [{"role": "user", "content": "List the days of the week, one per line."}]
    free = claude.messages.create(
        model=DETERMINISTIC_MODEL, max_tokens=40, extra_body={"temperature": 0}, messages=question
    )
    words = re.findall(r"[A-Za-z]{3,}", free.content[0].text)
    assert len(words) >= 2, free.content[0].text
    stop = words[1]
    stopped = claude.messages.create(
        model=DETERMINISTIC_MODEL,
        max_tokens=40,
        extra_body={"temperature": 0},
        messages=question,
        stop_sequences=[stop, "@@@"],
    )
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == stop
    text = stopped.content[0].text if stopped.content else ""
    assert stop not in text and free.content[0].text.startswith(text)


def test_stream_text_and_final_message(claude):
    with claude.messages.stream(model=DEFAULT_MODEL, max_tokens=24, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].text == text
    assert final.stop_reason in ("end_turn", "max_tokens") and final.usage.output_tokens > 0
    assert final.usage.input_tokens > 0


def test_raw_stream_event_order(http, base_url):
    body = {"model": DEFAULT_MODEL, "max_tokens": 12, "messages": HELLO, "stream": True}
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "fine-grained-tool-streaming-2025-05-14"}
    with http.post(base_url + MESSAGES, json=body, headers=headers, stream=True, timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = named_events(response)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] > 0
    assert events[2][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert all(p["delta"]["type"] == "text_delta" for n, p in events if n == "content_block_delta")
    assert events[-2][1]["delta"]["stop_reason"] in ("end_turn", "max_tokens")
    assert events[-2][1]["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_tool_use_round_trip(claude, stream):
    question = [{"role": "user", "content": "What is the weather in Oslo, in celsius?"}]
    request = dict(model=DEFAULT_MODEL, max_tokens=60, extra_body={"temperature": 0}, messages=question, tools=TOOLS)
    request["tool_choice"] = {"type": "tool", "name": "get_weather"} if stream else {"type": "any"}
    if stream:
        with claude.messages.stream(**request) as events:
            first = events.get_final_message()
    else:
        first = claude.messages.create(**request)
    assert first.stop_reason == "tool_use"
    (call,) = [block for block in first.content if block.type == "tool_use"]
    assert call.id.startswith("toolu_")
    tool = {t["name"]: t for t in TOOLS}[call.name]
    jsonschema.validate(call.input, tool["input_schema"])
    follow_up = [
        *question,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "It is 21 degrees and sunny."}],
        },
    ]
    answer = claude.messages.create(
        model=DEFAULT_MODEL,
        max_tokens=30,
        extra_body={"temperature": 0},
        messages=follow_up,
        tools=TOOLS,
        tool_choice={"type": "none"},
    )
    assert [block.type for block in answer.content] == ["text"] and answer.content[0].text
    assert answer.stop_reason in ("end_turn", "max_tokens")


def test_count_tokens_equals_the_input_tokens_of_the_same_request(claude):
    request = dict(model=DEFAULT_MODEL, system="You answer briefly.", messages=HELLO)
    counted = claude.messages.count_tokens(**request)
    created = claude.messages.create(max_tokens=2, **request)
    assert counted.input_tokens == created.usage.input_tokens > 0
    with_tools = claude.messages.count_tokens(**request, tools=TOOLS)
    assert with_tools.input_tokens > counted.input_tokens  # the tools are described in the prompt


@pytest.mark.parametrize(
    "fields, status, field",
    [
        ({"model": None}, 400, "model"),
        ({"messages": None}, 400, "messages"),
        ({"max_tokens": None}, 400, "max_tokens"),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages[0].role"),
        ({"messages": [{"role": "system", "content": "hi"}]}, 400, "messages[0].role"),
        ({"messages": "hello"}, 400, "messages"),
        ({"temperature": "hot"}, 400, "temperature"),
        ({"temperature": 1.5}, 400, "temperature"),
        ({"max_tokens": 0}, 400, "max_tokens"),
        ({"max_tokens": 1.5}, 400, "max_tokens"),
        ({"top_p": 0}, 400, "top_p"),
        ({"stream": "yes"}, 400, "stream"),
        ({"stop_sequences": "END"}, 400, "stop_sequences"),
        ({"max_tokens": 9000}, 400, "max_tokens"),
        ({"logit_bias": {"1": 5}}, 400, "logit_bias"),
        ({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}, 400, "content[0].source"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, 400, "tools[0].type"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, 400, "thinking.budget_tokens"),
        ({"model": "gpt-5"}, 404, "model"),
    ],
)
def test_bad_inputs_get_anthropics_error_naming_the_field(http, base_url, fields, status, field):
    body = {"model": DEFAULT_MODEL, "max_tokens": 8, "messages": HELLO}
    body.update(fields)
    body = {key: value for key, value in body.items() if value is not None}
    error = assert_anthropic_error(http.post(base_url + MESSAGES, json=body), status)
    assert error["type"] == ("not_found_error" if status == 404 else "invalid_request_error")
    assert field in error["message"], error


def test_the_sdk_raises_its_typed_exceptions(claude):
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="gpt-5", max_tokens=8, messages=HELLO)
    assert caught.value.body["error"]["type"] == "not_found_error" and DEFAULT_MODEL in caught.value.message
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model=DEFAULT_MODEL, max_tokens=anthropic.omit, messages=HELLO)
    assert "max_tokens" in caught.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model=DEFAULT_MODEL, max_tokens=8, messages=[{"role": "bot", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model=DEFAULT_MODEL, max_tokens=8, messages=HELLO, extra_body={"temperature": 3})
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.count_tokens(model=DEFAULT_MODEL, messages=[])


def test_errors_before_the_body_is_read_are_anthropics_too(http, base_url):
    json_type = {"Content-Type": "application/json"}
    assert_anthropic_error(http.post(base_url + MESSAGES, data=b'{"model": ', headers=json_type), 400)
    assert_anthropic_error(http.post(base_url + MESSAGES, data=b"\xff\xfe{}", headers=json_type), 400)
    assert_anthropic_error(
        http.post(base_url + MESSAGES, data=b"<x/>", headers={"Content-Type": "application/xml"}), 415
    )
    assert_anthropic_error(http.get(base_url + MESSAGES), 405)
    assert_anthropic_error(http.post(base_url + "/v1/messages/count_tokens", data=b"[]", headers=json_type), 400)
    # the chat route keeps OpenAI's shape
    assert set(http.post(base_url + "/v1/chat/completions", data=b"[]", headers=json_type).json()) == {"error"}


def test_messages_are_counted_under_their_own_method(claude, base_url):
    before = scrape(base_url)
    claude.messages.create(model=DEFAULT_MODEL, max_tokens=2, messages=HELLO)
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model=DEFAULT_MODEL, max_tokens=8, messages=HELLO, extra_body={"temperature": 3})
    after = scrape(base_url)
    labels = dict(api="V3", interface="REST", method="Messages", name=DEFAULT_MODEL)
    for series in ("ovms_requests_success_total", "ovms_requests_fail_total"):
        assert value(after, series, **labels) == value(before, series, **labels) + 1, series


def test_a_client_that_leaves_mid_stream_cancels_its_generation(server, http, base_url):
    wait_until_idle(http, base_url)
    labels = dict(api="V3", interface="REST", method="Messages", name=DEFAULT_MODEL)
    before = scrape(base_url)
    story = [{"role": "user", "content": "Write a very long story about the sea, with many chapters."}]
    payload = json.dumps(
        {"model": DEFAULT_MODEL, "max_tokens": 4000, "temperature": 1, "messages": story, "stream": True}
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        received = b""
        while received.count(b"event: content_block_delta") < 5:
            data = sock.recv(65536)
            assert data, "the server closed the stream early"
            received += data
    assert received.startswith(b"HTTP/1.1 200")
    # Without cancellation this request would generate up to 4000 tokens (minutes on 2 cores).
    stats = wait_until_idle(http, base_url, timeout=30)
    assert stats["engine"]["live_requests"] == 0
    after = scrape(base_url)
    assert value(after, "ovms_requests_fail_total", **labels) == value(before, "ovms_requests_fail_total", **labels) + 1


def docs_section_blocks(language):
    section = (REPO / "docs" / "api.md").read_text().split("## Anthropic Messages", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_the_docs_examples_run_as_written(base_url):
    (curl,) = docs_section_blocks("bash")
    url = re.search(r"curl (\S+)", curl).group(1).replace("http://localhost:8000", base_url)
    headers = dict(re.findall(r'-H "([^:]+): ([^"]+)"', curl))
    payload = re.search(r"-d '(.*?)'", curl, re.S).group(1)
    answer = requests.post(url, data=payload, headers=headers, timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "message" and answer.json()["content"][0]["text"]
    (snippet,) = docs_section_blocks("python")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet.replace("http://localhost:8000", base_url), "docs/api.md", "exec"), {})
    lines = printed.getvalue().strip().splitlines()
    assert len(lines) >= 3 and int(lines[-1]) > 0


# --- a server with API keys --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anthropic-secured")
    keys = folder / "keys.txt"
    keys.write_text(f"{KEY}\n")
    running = RunningServer(
        FIXTURES / "single.json",
        "--api-key-file",
        str(keys),
        "--cors-origins",
        "https://app.example",
        log_path=folder / "server.log",
    )
    try:
        yield running.wait_ready()
    finally:
        running.stop()


def test_api_keys_as_anthropic_clients_send_them(secured):
    with pytest.raises(anthropic.AuthenticationError) as caught:
        anthropic.Anthropic(base_url=secured.base, api_key="wrong", max_retries=0).messages.create(
            model=DEFAULT_MODEL, max_tokens=2, messages=HELLO
        )
    assert caught.value.body["error"]["type"] == "authentication_error"
    good = anthropic.Anthropic(base_url=secured.base, api_key=KEY, max_retries=0, timeout=120)  # sends x-api-key
    assert good.messages.create(model=DEFAULT_MODEL, max_tokens=2, messages=HELLO).usage.output_tokens > 0
    assert good.messages.count_tokens(model=DEFAULT_MODEL, messages=HELLO).input_tokens > 0
    missing = requests.post(
        secured.base + "/v1/messages/count_tokens", json={"model": DEFAULT_MODEL, "messages": HELLO}
    )
    assert assert_anthropic_error(missing, 401)["type"] == "authentication_error"
    preflight = requests.options(
        secured.base + MESSAGES,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, anthropic-version, anthropic-beta, content-type",
        },
    )
    assert preflight.status_code == 200
    assert "anthropic-beta" in preflight.headers["access-control-allow-headers"]
