"""Unit tests of `ovserve bench`'s metric math and stream parsing (no server, no model)."""

import asyncio
import json
import random
import socket

import pytest

from ovserve.bench import client, metrics, workload


def request(send, chunks, tokens, error=None, end=None, prompt_tokens=None):
    return {
        "send": send,
        "chunks": chunks,
        "tokens": tokens,
        "error": error,
        "end": end,
        "prompt_tokens": prompt_tokens,
    }


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 100])
def test_percentile_matches_numpy_linear(q):
    numpy = pytest.importorskip("numpy")
    values = [random.Random(i).random() * 10 for i in range(37)]
    assert metrics.percentile(values, q) == pytest.approx(float(numpy.percentile(values, q)))


def test_percentile_of_nothing_is_none():
    assert metrics.percentile([], 50) is None
    assert metrics.median([None]) is None
    assert metrics.spread([]) == (None, None)


def test_p90_interpolates_between_neighbours():
    values = list(range(11))  # 0..10: p90 is exactly 9, p99 is 9.9
    assert metrics.percentile(values, 90) == pytest.approx(9.0)
    assert metrics.percentile(values, 99) == pytest.approx(9.9)


def test_per_request_definitions():
    chunks = [1.0, 1.1, 1.3, 1.6]
    assert metrics.ttft(0.5, chunks) == pytest.approx(0.5)
    assert metrics.itls(chunks) == pytest.approx([0.1, 0.2, 0.3])
    # 7 tokens in 4 chunks: TPOT spreads the time after the first chunk over the 6 later tokens
    assert metrics.tpot(request(0.5, chunks, 7)) == pytest.approx(0.6 / 6)
    assert metrics.tpot(request(0.0, [1.0], 1)) is None
    assert metrics.ttft(0.0, []) is None


def test_e2e_and_tpot_run_to_the_last_event():
    # the usage chunk and [DONE] came 0.2 s after the last content chunk: E2E and TPOT include it,
    # as benchmark_serving's latency (until the last chunk received) does
    late_end = request(0.0, [1.0, 1.5, 2.0], 3, end=2.2)
    assert metrics.e2e_latency(late_end) == pytest.approx(2.2)
    assert metrics.tpot(late_end) == pytest.approx((2.2 - 1.0) / 2)  # (E2E - TTFT) / (tokens - 1)
    assert metrics.e2e_latency(request(0.5, [1.0, 3.0], 2)) == pytest.approx(2.5)  # no end: the last chunk
    assert metrics.e2e_latency(request(0.5, [], 0)) is None


def test_summarize_counts_failed_requests_only_as_errors():
    requests = [
        request(0.0, [0.2, 0.3, 0.5], 3),
        request(0.1, [0.4, 0.6], 2),
        request(0.2, [9.0, 9.5], 2, error="HTTP 500"),
    ]
    summary = metrics.summarize(requests, wall_time=1.0)
    assert summary["errors"] == 1 and summary["completed"] == 2 and summary["requests"] == 3
    assert summary["output_tokens_per_s"] == pytest.approx(5.0)
    assert summary["requests_per_s"] == pytest.approx(2.0)  # completed requests only
    assert summary["ttft_p50_s"] == pytest.approx(0.25)
    assert summary["itl_p50_s"] == pytest.approx(0.2)  # pooled gaps 0.1, 0.2, 0.2
    assert summary["tpot_p50_s"] == pytest.approx((0.15 + 0.2) / 2)
    assert summary["e2e_p50_s"] == pytest.approx((0.5 + 0.5) / 2)


def test_summarize_pools_itl_over_requests_and_reports_p90():
    # one request with 10 gaps of 10 ms, one with a single 1 s gap: pooled, p90 stays at 10 ms
    # (10 of the 11 gaps), p99 lands near the slow gap; a per-request mean would hide both
    fast = request(0.0, [0.1 + 0.01 * i for i in range(11)], 11)
    slow = request(0.0, [0.1, 1.1], 2)
    summary = metrics.summarize([fast, slow], wall_time=2.0)
    assert summary["itl_p50_s"] == pytest.approx(0.01)
    assert summary["itl_p90_s"] == pytest.approx(0.01)
    # p99 of 11 sorted gaps sits at position 9.9: nine tenths of the way from 10 ms to 1 s
    assert summary["itl_p99_s"] == pytest.approx(0.01 + 0.9 * (1.0 - 0.01))
    assert summary["tpot_p50_s"] == pytest.approx((0.01 + 1.0) / 2)


def test_summarize_throughputs_and_prompt_tokens():
    requests = [request(0.0, [0.5, 1.0], 8, prompt_tokens=90), request(0.0, [0.5, 1.5], 8, prompt_tokens=90)]
    summary = metrics.summarize(requests, wall_time=2.0)
    assert summary["output_tokens_per_s"] == pytest.approx(8.0)
    assert summary["total_tokens_per_s"] == pytest.approx((16 + 180) / 2.0)
    assert summary["prompt_tokens"] == 180


def test_summarize_of_failures_only_has_no_latencies():
    summary = metrics.summarize([request(0.0, [], 0, error="refused")], wall_time=1.0)
    assert summary["completed"] == 0 and summary["ttft_p50_s"] is None and summary["requests_per_s"] == 0


def test_ratio_and_latency_summary():
    assert metrics.ratio(2.0, 4.0) == 0.5
    assert metrics.ratio(None, 4.0) is None and metrics.ratio(1.0, 0) is None
    summary = metrics.latency_summary([0.01, 0.02, 0.06, 0.2])
    assert summary["over_50ms"] == 2 and summary["over_100ms"] == 1 and summary["max_s"] == 0.2


def test_sse_parser_handles_split_events_and_crlf():
    parser = client.SseParser()
    assert parser.feed(b'data: {"a":') == []
    assert parser.feed(b" 1}\r\n\r\ndata: [DONE]\n") == ['{"a": 1}']
    assert parser.feed(b"\n") == ["[DONE]"]


def test_chunked_body_pieces():
    async def read():
        reader = asyncio.StreamReader()
        reader.feed_data(b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n")
        reader.feed_eof()
        return [piece async for piece, _ in client.body_pieces(reader, {"transfer-encoding": "chunked"})]

    assert asyncio.run(read()) == [b"hello", b"abc"]


def test_has_content_ignores_role_and_usage_chunks():
    assert not client.has_content({"choices": [{"delta": {"role": "assistant", "content": ""}}]})
    assert not client.has_content({"choices": [], "usage": {"completion_tokens": 3}})
    assert client.has_content({"choices": [{"delta": {"content": "Hi"}}]})


def test_prompts_are_deterministic_and_distinct_per_seed():
    first = workload.make_prompts(3, "s-1")
    assert first == workload.make_prompts(3, "s-1")
    assert first != workload.make_prompts(3, "s-2")
    assert all(len(prompt.split()) == workload.DEFAULT_INPUT_WORDS for prompt in first)
    runs = workload.Workload(input_words=7, seed="x")
    assert runs.prompts(2, "c=1", 0) == runs.prompts(2, "c=1", 0) != runs.prompts(2, "c=1", 1)
    assert all(len(prompt.split()) == 7 for prompt in runs.prompts(2, "c=1", 0))


def test_request_bytes_ask_for_a_usage_chunk_and_ignore_eos():
    endpoint = client.Endpoint("http://127.0.0.1:8123/v3", api_key="sk-test")
    raw = client.chat_request_bytes(endpoint, "m", "hello", 64)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v3/chat/completions HTTP/1.1")
    assert b"\r\nAuthorization: Bearer sk-test\r\n" in head
    fields = json.loads(body)
    assert fields["stream"] and fields["stream_options"] == {"include_usage": True}
    assert fields["ignore_eos"] and fields["max_tokens"] == 64 and fields["temperature"] == 0
    plain = json.loads(
        client.chat_request_bytes(client.Endpoint("http://h/v1"), "m", "hi", 8, ignore_eos=False).partition(
            b"\r\n\r\n"
        )[2]
    )
    assert "ignore_eos" not in plain


def test_endpoint_parts():
    endpoint = client.Endpoint("https://example.com/v1/")
    assert (endpoint.tls, endpoint.port, endpoint.prefix, endpoint.root) == (True, 443, "/v1", "https://example.com")
    with pytest.raises(ValueError):
        client.Endpoint("ftp://example.com/v1")


def _fake_server_response(events):
    body = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + body


def _stream_from_fake_server(events):
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
            endpoint = client.Endpoint(f"http://127.0.0.1:{port}/v3")
            return await client.stream_chat(endpoint, "m", "hi", 3)

    return asyncio.run(scenario())


CONTENT_EVENTS = [
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}],"usage":null}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"lo"}}],"usage":null}\n\n',
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null}\n\n',
]


def test_stream_chat_against_a_fake_chunked_sse_server():
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":90,"completion_tokens":3,"total_tokens":93}}\n\n'
    record = _stream_from_fake_server(CONTENT_EVENTS + [usage, b"data: [DONE]\n\n"])
    assert record["error"] is None
    assert len(record["chunks"]) == 2  # the role chunk and the finish chunk carry no content
    assert record["tokens"] == 3 and record["prompt_tokens"] == 90 and record["usage"] is True
    assert record["end"] >= record["chunks"][-1]


def test_stream_chat_without_a_usage_chunk_counts_content_chunks():
    record = _stream_from_fake_server(CONTENT_EVENTS + [b"data: [DONE]\n\n"])
    assert record["error"] is None
    assert record["tokens"] == 2 and record["usage"] is False
    assert metrics.summarize([record], 1.0)["tokens_counted_from_chunks"] == 1


def test_stream_chat_reports_a_refused_connection():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens once it's closed
    endpoint = client.Endpoint(f"http://127.0.0.1:{port}/v3")
    record = asyncio.run(client.stream_chat(endpoint, "m", "hi", 3))
    assert record["error"] and record["chunks"] == []
