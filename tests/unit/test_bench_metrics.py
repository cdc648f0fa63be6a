"""Unit tests of the benchmark's metric math and stream parsing (no server, no model).

"""

import asyncio
import json
import random
import socket

import pytest

from benchmarks import metrics, stream_bench


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 100])
def test_percentile_matches_numpy_linear(q):
    numpy = pytest.importorskip("numpy")
    values = [random.Random(i).random() * 10 for i in range(37)]
    assert metrics.percentile(values, q) == pytest.approx(float(numpy.percentile(values, q)))


def test_percentile_of_nothing_is_none():
    assert metrics.percentile([], 50) is None
    assert metrics.median([None]) is None
    assert metrics.spread([]) == (None, None)


def test_per_request_definitions():
    chunks = [1.0, 1.1, 1.3, 1.6]
    assert metrics.ttft(0.5, chunks) == pytest.approx(0.5)
    assert metrics.itls(chunks) == pytest.approx([0.1, 0.2, 0.3])
    # 7 tokens in 4 chunks: TPOT spreads the time after the first chunk over the 6 later tokens
    assert metrics.tpot(chunks, 7) == pytest.approx(0.6 / 6)
    assert metrics.tpot([1.0], 1) is None
    assert metrics.ttft(0.0, []) is None


def test_summarize_counts_failed_requests_only_as_errors():
    requests = [
        {"send": 0.0, "chunks": [0.2, 0.3, 0.5], "tokens": 3, "error": None},
        {"send": 0.1, "chunks": [0.4, 0.6], "tokens": 2, "error": None},
        {"send": 0.2, "chunks": [9.0, 9.5], "tokens": 2, "error": "HTTP 500"},
    ]
    summary = metrics.summarize(requests, wall_time=1.0)
    assert summary["errors"] == 1 and summary["completed"] == 2
    assert summary["output_tokens_per_s"] == pytest.approx(5.0)
    assert summary["ttft_p50_s"] == pytest.approx(0.25)
    assert summary["itl_p50_s"] == pytest.approx(0.2)  # pooled gaps 0.1, 0.2, 0.2
    assert summary["tpot_p50_s"] == pytest.approx((0.15 + 0.2) / 2)


def test_ratio_and_latency_summary():
    assert metrics.ratio(2.0, 4.0) == 0.5
    assert metrics.ratio(None, 4.0) is None and metrics.ratio(1.0, 0) is None
    summary = metrics.latency_summary([0.01, 0.02, 0.2], threshold=0.1)
    assert summary["over_threshold"] == 1 and summary["max"] == 0.2


def test_sse_parser_handles_split_events_and_crlf():
    parser = stream_bench.SseParser()
    assert parser.feed(b'data: {"a":') == []
    assert parser.feed(b' 1}\r\n\r\ndata: [DONE]\n') == ['{"a": 1}']
    assert parser.feed(b"\n") == ["[DONE]"]


def test_chunked_body_pieces():
    async def read():
        reader = asyncio.StreamReader()
        reader.feed_data(b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n")
        reader.feed_eof()
        return [piece async for piece, _ in stream_bench.body_pieces(reader, {"transfer-encoding": "chunked"})]

    assert asyncio.run(read()) == [b"hello", b"abc"]


def test_has_content_ignores_role_and_usage_chunks():
    assert not stream_bench.has_content({"choices": [{"delta": {"role": "assistant", "content": ""}}]})
    assert not stream_bench.has_content({"choices": [], "usage": {"completion_tokens": 3}})
    assert stream_bench.has_content({"choices": [{"delta": {"content": "Hi"}}]})


def test_prompts_are_deterministic_and_distinct_per_seed():
    first = stream_bench.make_prompts(3, "s-1")
    assert first == stream_bench.make_prompts(3, "s-1")
    assert first != stream_bench.make_prompts(3, "s-2")
    assert all(len(prompt.split()) == stream_bench.PROMPT_WORDS for prompt in first)


def test_request_bytes_ask_for_a_usage_chunk_and_ignore_eos():
    endpoint = stream_bench.Endpoint("http://127.0.0.1:8123/v3")
    raw = stream_bench.chat_request_bytes(endpoint, "m", "hello", 64)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v3/chat/completions HTTP/1.1")
    fields = json.loads(body)
    assert fields["stream"] and fields["stream_options"] == {"include_usage": True}
    assert fields["ignore_eos"] and fields["max_tokens"] == 64 and fields["temperature"] == 0


def _fake_server_response(events):
    body = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + body


def test_stream_chat_against_a_fake_chunked_sse_server():
    events = [
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}],"usage":null}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"lo"}}],"usage":null}\n\n',
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null}\n\n',
        b'data: {"choices":[],"usage":{"prompt_tokens":90,"completion_tokens":3,"total_tokens":93}}\n\n',
        b"data: [DONE]\n\n",
    ]

    async def scenario():
        async def handle(reader, writer):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(_fake_server_response(events))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            endpoint = stream_bench.Endpoint(f"http://127.0.0.1:{port}/v3")
            return await stream_bench.stream_chat(endpoint, "m", "hi", 3)

    record = asyncio.run(scenario())
    assert record["error"] is None
    assert len(record["chunks"]) == 2  # the role chunk and the finish chunk carry no content
    assert record["tokens"] == 3 and record["prompt_tokens"] == 90


def test_stream_chat_reports_a_refused_connection():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens once it's closed
    endpoint = stream_bench.Endpoint(f"http://127.0.0.1:{port}/v3")
    record = asyncio.run(stream_bench.stream_chat(endpoint, "m", "hi", 3))
    assert record["error"] and record["chunks"] == []
