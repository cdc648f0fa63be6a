"""Fuzzing the real server: never a 5xx, whatever a client sends.

- schemathesis, from the server's OpenAPI document (`ovserve.http.openapi`, served at
  /v3/openapi.json): valid and invalid requests for every documented operation (examples, coverage
  and fuzzing phases, fixed seed), checked with `not_a_server_error` and for OpenAI's error object
  on every 4xx;
- malformed raw bodies (random bytes, truncated JSON, nesting 100000 levels deep, huge numbers,
  NaN, unicode surrogates, odd content types): every answer is a 4xx with an OpenAI error object;
  odd but well-formed requests: never a 5xx.

Cost is bounded: a generated generation request that the server would accept is sent with
max_tokens <= 8 and n <= 2 (invalid bodies are sent as generated, so they stay invalid). The
schemathesis part sends about 1500 requests, about 100 of which generate.

Findings (5xx, or garbage accepted, that fuzzing once found) stay in FUZZ_FINDINGS as regression
tests: each must now get a clear 4xx (or be served, where the fix made it valid).

Knobs: OVSERVE_FUZZ_SEED (another seed explores other cases), OVSERVE_FUZZ_EXAMPLES (fuzzing-phase
examples per operation, 30), OVSERVE_FUZZ_PHASES (examples,coverage,fuzzing), OVSERVE_FUZZ_MAX_TOKENS (8).
"""

import json
import os
import random
import socket

import pytest

from ovserve.http.openapi import build_openapi
from ovserve.protocol.validation import VALIDATORS
from tests.e2e.conftest import LIMITED_MODEL
from tests.e2e.server import FIXTURES

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("OVSERVE_FUZZ_EXAMPLES", "30"))  # per operation
SEED = int(os.environ.get("OVSERVE_FUZZ_SEED", "20260"))  # a fixed seed: the same cases every run
MAX_TOKENS_CAP = int(os.environ.get("OVSERVE_FUZZ_MAX_TOKENS", "8"))  # per generated request
N_CAP = 2
TIMEOUT = 60
# Which schemathesis phases run (examples, coverage, fuzzing); e.g. OVSERVE_FUZZ_PHASES=coverage,fuzzing
_ENABLED = os.environ.get("OVSERVE_FUZZ_PHASES", "examples,coverage,fuzzing").split(",")
PHASES = {phase: {"enabled": phase in _ENABLED} for phase in ("examples", "coverage", "fuzzing")}

CHAT = "/v3/chat/completions"
COMPLETIONS = "/v3/completions"
TOKENIZE = "/v3/tokenize"
DETOKENIZE = "/v3/detokenize"
ROOT_TOKENIZE, ROOT_DETOKENIZE = "/tokenize", "/detokenize"  # vLLM's routes: `model` may be left out
EMBEDDINGS = "/v3/embeddings"
HELLO = [{"role": "user", "content": "Hi"}]


# --- schemathesis, from the served OpenAPI document ------------------------------------------------

ROUTE_KINDS = {
    "/chat/completions": "chat_completions",
    "/completions": "completions",
    "/tokenize": "tokenize",
    "/detokenize": "detokenize",
    "/embeddings": "embeddings",
    "/rerank": "rerank",
    "/responses": "responses",
    "/messages": "messages",
    "/messages/count_tokens": "count_tokens",
}
GENERATING = ("chat_completions", "completions", "responses", "messages")
ANTHROPIC_KINDS = ("messages", "count_tokens")  # their errors have Anthropic's shape, not OpenAI's


def _kind(path):
    """The request schema of a POST route (None if unknown)."""
    for suffix, kind in ROUTE_KINDS.items():
        if path.endswith(suffix):
            return kind
    return None


def _bound_cost(body):
    """At most MAX_TOKENS_CAP new tokens and 2 choices: a generated max_tokens may ask for the whole context."""
    for field in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if body.get(field) is not None:
            body[field] = min(body[field], MAX_TOKENS_CAP)
    if "input" in body:  # a Responses request
        body["max_output_tokens"] = min(body.get("max_output_tokens") or MAX_TOKENS_CAP, MAX_TOKENS_CAP)
    elif body.get("max_completion_tokens") is None:
        body["max_tokens"] = min(body.get("max_tokens") or MAX_TOKENS_CAP, MAX_TOKENS_CAP)
    if body.get("n") is not None:
        body["n"] = min(body["n"], N_CAP)


def cheap_body(path, body):
    """The body to send: a valid request off the known findings and bounded in cost; an invalid one unchanged."""
    kind = _kind(path)
    if kind not in VALIDATORS or not isinstance(body, dict) or not VALIDATORS[kind].is_valid(body):
        return body
    body = dict(body)
    if kind in GENERATING:
        _bound_cost(body)
    assert VALIDATORS[kind].is_valid(body), body  # still valid: the changes must not change the verdict
    return body


def anthropic_error_on_4xx(response):
    """A 4xx of the Anthropic routes carries Anthropic's error object."""
    try:
        payload = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON body: {response.content[:300]!r}") from None
    assert isinstance(payload, dict) and payload.get("type") == "error", payload
    error = payload["error"]
    assert set(error) == {"type", "message"} and isinstance(error["message"], str) and error["message"], payload


def openai_error_on_4xx(ctx, response, case):
    """Every 4xx carries OpenAI's error object (Anthropic's on the Anthropic routes)."""
    if 400 <= response.status_code < 500 and _kind(case.operation.path) in ANTHROPIC_KINDS:
        anthropic_error_on_4xx(response)
    elif 400 <= response.status_code < 500:
        try:
            error = json.loads(response.content)["error"]
        except (ValueError, KeyError, TypeError):
            raise AssertionError(
                f"{response.status_code} without an OpenAI error object: {response.content[:300]!r}"
            ) from None
        missing = {"message", "type", "param", "code"} - set(error)
        assert not missing, f"{response.status_code} error object without {sorted(missing)}: {error}"
        assert isinstance(error["message"], str) and error["message"], error
    return None


# The document as the fixture server builds it (its model names come from the same config), loaded at
# collection so that each operation is a test of its own; requests go to the running server
# (`base_url`). test_served_openapi_document_is_the_fuzzed_one checks that the server serves this very
# document. (schemathesis.pytest.from_fixture would load it from the server, but its lazy tests
# don't run under pytest 9: they set the removed Node._nodeid.)
SERVED_MODELS = [servable["name"] for servable in json.loads((FIXTURES / "config.json").read_text())["servables"]]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
        "phases": {"stateful": {"enabled": False}, **PHASES},
        "request-timeout": TIMEOUT,
    }
)
schema = schemathesis.openapi.from_dict(build_openapi(SERVED_MODELS), config=CONFIG)


@schema.parametrize()
def test_schemathesis_no_server_errors(case, base_url):
    if case.operation.method.upper() == "POST":
        case.body = cheap_body(case.operation.path, case.body)
    case.call_and_validate(base_url=base_url, checks=[not_a_server_error, openai_error_on_4xx], timeout=TIMEOUT)


def test_served_openapi_document_is_the_fuzzed_one(http, base_url):
    assert http.get(base_url + "/v3/openapi.json", timeout=TIMEOUT).json() == build_openapi(SERVED_MODELS)


def test_openapi_document_is_served_on_both_prefixes(http, base_url):
    for prefix in ("/v3", "/v1"):
        response = http.get(f"{base_url}{prefix}/openapi.json", timeout=TIMEOUT)
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        document = response.json()
        assert document["openapi"].startswith("3.1")
        assert f"{prefix}/chat/completions" in document["paths"]
        model = document["components"]["schemas"]["ModelId"]
        assert LIMITED_MODEL in model["anyOf"][0]["enum"]


# --- malformed raw bodies ----------------------------------------------------------------------------


def _valid(path):
    body = {"model": LIMITED_MODEL, "max_tokens": 2}
    body.update({"messages": HELLO} if path == CHAT else {"prompt": "Hi"})
    return json.dumps(body)


def _chat(**fields):
    return json.dumps({"model": LIMITED_MODEL, "messages": HELLO, **fields})


def _with(path, **fields):
    """A valid request's JSON text with raw JSON text spliced in as extra fields."""
    text = _valid(path)[:-1]
    return text + "".join(f', "{name}": {raw}' for name, raw in fields.items()) + "}"


def _malformed_bodies():
    rng = random.Random(SEED)
    cases = []
    for path in (CHAT, COMPLETIONS):
        short = "chat" if path == CHAT else "completions"
        valid = _valid(path).encode()
        for size in (1, 7, 64, 1000, 70000):
            cases.append((f"{short}-random-bytes-{size}", path, rng.randbytes(size)))
        for cut in sorted({1, 2, len(valid) // 3, len(valid) // 2, len(valid) - 2, len(valid) - 1}):
            cases.append((f"{short}-truncated-at-{cut}", path, valid[:cut]))
        cases += [
            (f"{short}-empty", path, b""),
            (f"{short}-whitespace", path, b" \n\t "),
            (f"{short}-json-null", path, b"null"),
            (f"{short}-json-array", path, b"[]"),
            (f"{short}-json-string", path, b'"hello"'),
            (f"{short}-json-number", path, b"1e999"),
            (f"{short}-trailing-garbage", path, valid + b"}"),
            (f"{short}-two-documents", path, valid + valid),
            (f"{short}-nested-arrays-100000", path, b"[" * 100000 + b"]" * 100000),
            (f"{short}-nested-objects-100000", path, b'{"a":' * 100000 + b"1" + b"}" * 100000),
            (f"{short}-nested-unclosed-100000", path, b"[" * 100000),
            (f"{short}-nested-field-100000", path, _with(path, user="[" * 100000 + "]" * 100000).encode()),
            (f"{short}-nested-field-900", path, _with(path, user="[" * 900 + "]" * 900).encode()),
            (
                f"{short}-nested-model-900",
                path,
                _valid(path).replace(f'"{LIMITED_MODEL}"', "[" * 900 + "]" * 900).encode(),
            ),
            (f"{short}-huge-float", path, _with(path, temperature="1e999").encode()),
            (f"{short}-huge-negative-float", path, _with(path, top_p="-1e999").encode()),
            (f"{short}-huge-int-max-tokens", path, _with(path, max_tokens="9" * 4000).encode()),
            (f"{short}-huge-int-n", path, _with(path, n="9" * 40).encode()),
            (f"{short}-huge-int-seed", path, _with(path, seed=str(2**64)).encode()),
            (f"{short}-huge-int-min-tokens", path, _with(path, min_tokens=str(2**64)).encode()),
            (f"{short}-float-max-tokens", path, _with(path, max_tokens="2.5").encode()),
            (f"{short}-bool-max-tokens", path, _with(path, max_tokens="true").encode()),
            (f"{short}-nan-max-tokens", path, _with(path, max_tokens="NaN").encode()),
            (f"{short}-nan-top-p", path, _with(path, top_p="NaN").encode()),
            (f"{short}-nan-penalty", path, _with(path, presence_penalty="NaN").encode()),
            (f"{short}-nan-repetition-penalty", path, _with(path, repetition_penalty="NaN").encode()),
            (f"{short}-infinity-temperature", path, _with(path, temperature="Infinity").encode()),
            (f"{short}-minus-infinity-top-k", path, _with(path, top_k="-Infinity").encode()),
            (f"{short}-nan-n", path, _with(path, n="NaN").encode()),
            (f"{short}-surrogate-bytes", path, valid[:-1] + b', "user": "\xed\xa0\x80"}'),
            (f"{short}-invalid-utf8", path, valid[:-1] + b', "user": "\xff\xfe"}'),
            (f"{short}-utf16-body", path, _valid(path).encode("utf-16")),
            (f"{short}-nul-bytes", path, b"\x00" * 64),
            (f"{short}-bom", path, b"\xef\xbb\xbf" + valid),
            (f"{short}-null-model", path, _valid(path).replace(f'"{LIMITED_MODEL}"', "null").encode()),
        ]
    for path in (TOKENIZE, DETOKENIZE, ROOT_TOKENIZE, ROOT_DETOKENIZE):
        short = path.rsplit("/", 1)[1] if path.startswith("/v3/") else "root" + path.replace("/", "-")
        cases += [
            (f"{short}-random-bytes", path, rng.randbytes(256)),
            (f"{short}-truncated", path, b'{"model": "smollm2-limited", "tok'),
            (f"{short}-nested-arrays-100000", path, b"[" * 100000 + b"]" * 100000),
            (f"{short}-nan", path, b'{"model": "smollm2-limited", "tokens": [NaN]}'),
            (f"{short}-huge-int", path, b'{"model": "smollm2-limited", "tokens": [' + b"9" * 4000 + b"]}"),
            (f"{short}-json-array", path, b"[]"),
        ]
    return cases


MALFORMED = _malformed_bodies()

# Odd but well-formed requests: any answer but a 5xx (4xx ones with an OpenAI error object).
ODD = [
    ("chat-tiny-float-temperature", CHAT, _with(CHAT, temperature="1e-999")),
    ("completions-tiny-float-temperature", COMPLETIONS, _with(COMPLETIONS, temperature="1e-999")),
    ("chat-escaped-surrogate-in-user", CHAT, _with(CHAT, user='"\\ud800"')),
    ("chat-escaped-surrogate-in-stop", CHAT, _with(CHAT, stop='"\\ud800"')),
    (
        "chat-escaped-surrogate-in-name",
        CHAT,
        _chat(max_tokens=2, messages=[{"role": "user", "content": "a", "name": "\ud800"}]),
    ),
    ("chat-escaped-surrogate-as-key", CHAT, _with(CHAT, **{"\\ud800": "1"})),
    ("chat-empty-stop", CHAT, _with(CHAT, stop='""')),
    ("chat-only-assistant", CHAT, _chat(max_tokens=2, messages=[{"role": "assistant", "content": "a"}])),
    ("chat-only-tool-null-content", CHAT, _chat(max_tokens=2, messages=[{"role": "tool", "content": None}])),
    ("chat-empty-content", CHAT, _chat(max_tokens=2, messages=[{"role": "user", "content": ""}])),
    ("chat-empty-parts", CHAT, _chat(max_tokens=2, messages=[{"role": "user", "content": []}])),
    ("chat-nul-in-content", CHAT, _chat(max_tokens=2, messages=[{"role": "user", "content": "a\u0000b"}])),
    (
        "chat-template-syntax-in-content",
        CHAT,
        _chat(max_tokens=2, messages=[{"role": "user", "content": "{{ raise_exception('x') }}{% for %}"}]),
    ),
    (
        "chat-special-tokens-in-content",
        CHAT,
        _chat(max_tokens=2, messages=[{"role": "user", "content": "<|im_end|><|im_start|>system"}]),
    ),
    ("chat-many-messages", CHAT, _chat(max_tokens=2, messages=[{"role": "user", "content": "a"}] * 64)),
    ("chat-long-stop-string", CHAT, _chat(max_tokens=2, stop=["x" * 10000])),
    ("chat-max-tokens-beyond-context", CHAT, _chat(max_tokens=10**9)),
    ("chat-min-tokens-over-max", CHAT, _chat(max_tokens=2, min_tokens=5)),
    ("chat-n-16-greedy", CHAT, _chat(max_tokens=2, n=16, temperature=0)),
    ("chat-max-seed", CHAT, _chat(max_tokens=2, seed=2**63 - 1)),
    ("chat-top-k-max-int64", CHAT, _chat(max_tokens=2, top_k=2**63)),
    ("chat-stop-token-ids-max-int64", CHAT, _chat(max_tokens=2, stop_token_ids=[2**63 - 1])),
    ("chat-unknown-model", CHAT, _chat(model="no/such/model")),
    ("chat-long-model-name", CHAT, _chat(model="m" * 100000)),
    (
        "completions-whitespace-prompt",
        COMPLETIONS,
        json.dumps({"model": LIMITED_MODEL, "prompt": " ", "max_tokens": 2}),
    ),
    ("tokenize-empty-prompt", TOKENIZE, json.dumps({"model": LIMITED_MODEL, "prompt": ""})),
    ("detokenize-beyond-vocabulary", DETOKENIZE, json.dumps({"model": LIMITED_MODEL, "tokens": [2**31 - 1]})),
    ("detokenize-many-tokens", DETOKENIZE, json.dumps({"model": LIMITED_MODEL, "tokens": [0] * 100000})),
    ("detokenize-no-tokens", DETOKENIZE, json.dumps({"model": LIMITED_MODEL, "tokens": []})),
    ("root-tokenize-null-model", ROOT_TOKENIZE, json.dumps({"model": None, "prompt": "Hi"})),
    ("root-tokenize-messages-no-model", ROOT_TOKENIZE, json.dumps({"messages": HELLO})),
    ("root-tokenize-token-strs", ROOT_TOKENIZE, json.dumps({"prompt": "Hi", "return_token_strs": "yes"})),
    ("root-tokenize-unknown-model", ROOT_TOKENIZE, json.dumps({"model": "nope", "prompt": "Hi"})),
    ("root-detokenize-beyond-vocabulary", ROOT_DETOKENIZE, json.dumps({"tokens": [2**31 - 1]})),
    ("root-detokenize-json-array-model", ROOT_DETOKENIZE, json.dumps({"model": [], "tokens": [1]})),
]


def assert_openai_4xx(response, label):
    assert 400 <= response.status_code < 500, f"{label}: {response.status_code} {response.text[:500]!r}"
    assert response.headers.get("content-type", "").startswith("application/json"), (label, response.headers)
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, (label, error)
    assert isinstance(error["message"], str) and error["message"] and "Traceback" not in error["message"], (
        label,
        error,
    )


@pytest.mark.parametrize("label,path,raw", MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_body_is_a_4xx_with_an_openai_error(http, base_url, label, path, raw):
    response = http.post(base_url + path, data=raw, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert_openai_4xx(response, label)


MESSAGES, COUNT_TOKENS = "/v1/messages", "/v1/messages/count_tokens"
_MESSAGES_VALID = json.dumps({"model": LIMITED_MODEL, "max_tokens": 2, "messages": HELLO})
# Malformed and odd bodies on Anthropic's routes: a 4xx in Anthropic's shape, or an answer; never a 5xx.
ANTHROPIC_BODIES = [
    ("messages-random-bytes", MESSAGES, random.Random(SEED).randbytes(256)),
    ("messages-truncated", MESSAGES, _MESSAGES_VALID[:20].encode()),
    ("messages-empty", MESSAGES, b""),
    ("messages-json-array", MESSAGES, b"[]"),
    ("messages-nested-arrays-100000", MESSAGES, b"[" * 100000 + b"]" * 100000),
    ("messages-nan-temperature", MESSAGES, (_MESSAGES_VALID[:-1] + ', "temperature": NaN}').encode()),
    ("messages-huge-int-top-k", MESSAGES, (_MESSAGES_VALID[:-1] + ', "top_k": ' + "9" * 5000 + "}").encode()),
    ("messages-escaped-surrogate", MESSAGES, _MESSAGES_VALID.replace('"Hi"', '"a\\ud800b"').encode()),
    (
        "messages-unknown-block",
        MESSAGES,
        json.dumps(
            {**json.loads(_MESSAGES_VALID), "messages": [{"role": "user", "content": [{"type": "wat"}]}]}
        ).encode(),
    ),
    (
        "messages-tool-result-in-assistant",
        MESSAGES,
        json.dumps(
            {
                **json.loads(_MESSAGES_VALID),
                "messages": [{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "x"}]}],
            }
        ).encode(),
    ),
    (
        "messages-only-tool-result",
        MESSAGES,
        json.dumps(
            {
                **json.loads(_MESSAGES_VALID),
                "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}],
            }
        ).encode(),
    ),
    (
        "messages-empty-blocks",
        MESSAGES,
        json.dumps({**json.loads(_MESSAGES_VALID), "messages": [{"role": "user", "content": []}]}).encode(),
    ),
    (
        "messages-forced-tool-odd-schema",
        MESSAGES,
        json.dumps(
            {
                **json.loads(_MESSAGES_VALID),
                "tools": [{"name": "f", "input_schema": {"type": "string"}}],
                "tool_choice": {"type": "any"},
            }
        ).encode(),
    ),
    ("messages-unknown-model", MESSAGES, _MESSAGES_VALID.replace(LIMITED_MODEL, "no/such").encode()),
    ("count-tokens-random-bytes", COUNT_TOKENS, random.Random(SEED + 1).randbytes(64)),
    (
        "count-tokens-escaped-surrogate",
        COUNT_TOKENS,
        json.dumps({"model": LIMITED_MODEL, "messages": HELLO}).replace('"Hi"', '"\\udc00"').encode(),
    ),
]


@pytest.mark.parametrize("label,path,raw", ANTHROPIC_BODIES, ids=[case[0] for case in ANTHROPIC_BODIES])
def test_anthropic_route_bodies_are_never_a_5xx(http, base_url, label, path, raw):
    response = http.post(base_url + path, data=raw, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert response.status_code < 500, (label, response.status_code, response.text[:300])
    if response.status_code >= 400:
        anthropic_error_on_4xx(response)


@pytest.mark.parametrize("label,path,raw", ODD, ids=[case[0] for case in ODD])
def test_odd_request_is_never_a_5xx(http, base_url, label, path, raw):
    response = http.post(
        base_url + path, data=raw.encode("utf-8"), headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    if response.status_code >= 400:
        assert_openai_4xx(response, label)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/json-seq",
    ],
)
def test_odd_content_types_are_4xx(base_url, content_type):
    body = _valid(CHAT).encode()
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("utf-8")
    status, payload = _raw_exchange(base_url, head + body)
    assert 200 <= status < 500, (content_type, status, payload[:300])
    if status >= 400:
        assert set(json.loads(payload)["error"]) == {"message", "type", "param", "code"}


ODD_QUERIES = {
    "none": "",
    "empty-model": "?model=",
    "unknown-model": "?model=nope",
    "nul-model": "?model=%00",
    "long-model": "?model=" + "x" * 2000,
    "two-models": "?model=a&model=b",
}


@pytest.mark.parametrize("query", ODD_QUERIES.values(), ids=ODD_QUERIES.keys())
def test_vllm_get_probes_with_odd_queries_are_never_a_5xx(http, base_url, query):
    for path in ("/tokenizer_info", "/health"):
        response = http.get(base_url + path + query, timeout=TIMEOUT)
        assert response.status_code < 500, (path, query, response.status_code, response.text[:300])
        if response.status_code >= 400:
            assert_openai_4xx(response, path + query)


def _raw_exchange(base_url, request_bytes):
    host, port = base_url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(request_bytes)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def test_lying_content_length_is_not_a_5xx(base_url):
    body = _valid(CHAT).encode()
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body) - 5}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    status, payload = _raw_exchange(base_url, head + body)
    assert 400 <= status < 500, (status, payload[:300])


# --- regressions: 5xx (or accepted garbage) that fuzzing once found, each now a clear answer -------
# Each is the smallest request that showed it, and the reason it failed before the fix.

FUZZ_FINDINGS = [
    (
        "integral-float-max-tokens",
        CHAT,
        _chat(max_tokens=4.0),
        "max_tokens 4.0 passes the schema ('integer' admits integral floats) but reaches openvino_genai as a float: "
        "engine TypeError on GenerationConfig.max_new_tokens -> 500 engine_error",
    ),
    (
        "integral-float-max-completion-tokens",
        CHAT,
        _chat(max_completion_tokens=4.0),
        "as integral-float-max-tokens, through max_completion_tokens -> 500 engine_error",
    ),
    (
        "integral-float-completions-max-tokens",
        COMPLETIONS,
        json.dumps({"model": LIMITED_MODEL, "prompt": "Hi", "max_tokens": 4.0}),
        "as integral-float-max-tokens, on /v3/completions -> 500 engine_error",
    ),
    (
        "integral-float-seed",
        CHAT,
        _chat(max_tokens=2, seed=5.0),
        "seed 5.0 reaches GenerationConfig.rng_seed as a float: engine TypeError -> 500 engine_error",
    ),
    (
        "negative-seed",
        CHAT,
        _chat(max_tokens=2, seed=-1),
        "the schema allows seeds down to -2**63 but GenerationConfig.rng_seed is unsigned: with sampling on "
        "(temperature defaults to 1) engine TypeError -> 500 engine_error",
    ),
    (
        "negative-seed-streamed",
        CHAT,
        _chat(max_tokens=2, seed=-1, stream=True),
        "as negative-seed, with stream: true (the error comes before the headers) -> 500 engine_error",
    ),
    (
        "top-k-beyond-uint64",
        CHAT,
        _chat(max_tokens=2, top_k=2**64),
        "top_k has no maximum in the schema; 2**64 overflows GenerationConfig.top_k (size_t): engine TypeError -> 500",
    ),
    (
        "int-over-4300-digits",
        CHAT,
        _with(CHAT, seed="9" * 5000),
        "json.loads raises ValueError (Python's int max str digits limit), which read_json doesn't catch "
        "(only JSONDecodeError and RecursionError) -> 500 internal_error",
    ),
    (
        "escaped-surrogate-in-content",
        CHAT,
        _chat(max_tokens=2, messages=[{"role": "user", "content": "a\ud800b"}]),
        "a lone surrogate (JSON \\ud800) in message content reaches Tokenizer.encode, which can't take it: "
        "TypeError in ovserve/nodes/llm/node.py encode -> 500 internal_error",
    ),
    (
        "escaped-surrogate-in-prompt",
        COMPLETIONS,
        json.dumps({"model": LIMITED_MODEL, "prompt": "\udc00", "max_tokens": 2}),
        "as escaped-surrogate-in-content, on /v3/completions -> 500 internal_error",
    ),
    (
        "escaped-surrogate-in-model",
        CHAT,
        _chat(model="\udc00", max_tokens=2),
        "the 404 for an unknown model echoes the name; falcon's JSON handler can't encode the lone surrogate to "
        "UTF-8 while rendering the body -> 500 with an empty body",
    ),
    (
        "empty-prompt",
        COMPLETIONS,
        json.dumps({"model": LIMITED_MODEL, "prompt": "", "max_tokens": 2}),
        "an empty prompt tokenizes to no tokens and the engine refuses it (RuntimeError: Check 'prompt_len > 0' "
        "failed, sequence_group.hpp:483) -> 500 engine_error",
    ),
    (
        "integral-float-stop-token-ids",
        CHAT,
        _chat(max_tokens=2, stop_token_ids=[1.0]),
        "stop_token_ids [1.0] passes the schema and reaches GenerationConfig.stop_token_ids as a float: "
        "engine TypeError -> 500 engine_error",
    ),
    (
        "stop-token-id-beyond-int64",
        CHAT,
        _chat(max_tokens=2, stop_token_ids=[2**63]),
        "stop_token_ids items have no maximum in the schema; 2**63 overflows GenerationConfig.stop_token_ids (int64): "
        "engine TypeError -> 500 engine_error",
    ),
    (
        "integral-float-detokenize",
        DETOKENIZE,
        json.dumps({"model": LIMITED_MODEL, "tokens": [1.0, 2]}),
        "tokens [1.0] passes the schema and the vocabulary check, then Tokenizer.decode refuses the float: "
        "TypeError in ovserve/nodes/llm/node.py decode -> 500 internal_error",
    ),
    (
        "escaped-surrogate-in-tokenize-prompt",
        TOKENIZE,
        json.dumps({"model": LIMITED_MODEL, "prompt": "a\ud800"}),
        "as escaped-surrogate-in-content, on /v3/tokenize (Tokenizer.encode TypeError) -> 500 internal_error",
    ),
    (
        "escaped-surrogate-in-tokenize-messages",
        TOKENIZE,
        json.dumps({"model": LIMITED_MODEL, "messages": [{"role": "user", "content": "a\udc00"}]}),
        "as escaped-surrogate-in-content, on /v3/tokenize with messages -> 500 internal_error",
    ),
    (
        "integral-float-embeddings-input",
        EMBEDDINGS,
        json.dumps({"model": LIMITED_MODEL, "input": [1.0]}),
        "input [1.0] passes the schema (token ids) but parse_embeddings tells token ids from token id lists by "
        "isinstance(input[0], int): tuple(1.0) raises TypeError in ovserve/protocol/embeddings.py -> 500 internal_error",
    ),
    (
        "nan-temperature",
        CHAT,
        _with(CHAT, temperature="NaN"),
        "NaN passes the schema's minimum/maximum (comparisons with NaN are false) and is served as greedy "
        "decoding -> 200 instead of a 400",
    ),
]


# Valid once the fix landed (served, not refused): OpenAI seeds are signed 64-bit, the engine's wraps.
SERVED_FINDINGS = {"negative-seed", "negative-seed-streamed"}


@pytest.mark.parametrize(
    "label,path,raw",
    [
        pytest.param(label, path, raw, id=label)
        for label, path, raw, _reason in FUZZ_FINDINGS
        if _kind(path) in VALIDATORS
    ],
)
def test_fuzz_finding_gets_a_clear_answer(http, base_url, label, path, raw):
    response = http.post(
        base_url + path,
        data=raw.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    if label in SERVED_FINDINGS:
        assert response.status_code == 200, response.text
    else:
        assert_openai_4xx(response, label)
