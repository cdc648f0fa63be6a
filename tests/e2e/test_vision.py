"""A vision-language model served next to the default LLM from one config: a tiny random LLaVA
(tests/e2e/tiny_vlm.py) built here, exported with `ovserve export --task image_text_to_text` and added
with --add-to-config. Images made by the test (Pillow) reach the engine through chat completions (the
openai client: data URL, unary and streaming), Responses (`input_image`), Anthropic Messages (the
anthropic client: an image block), an allowed http URL and an allowed local file; every bad input is a
400 naming its part.

The model's text is noise. What the tests hold to is the plumbing: an image changes the answer and the
same image gives the same answer (the servable is `deterministic`, without prefix caching, so greedy
output is batch-invariant), the prompt counts each image's tokens, several image requests share the
engine, and a client that leaves frees it.
"""

import base64
import http.server
import io
import json
import random
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import anthropic
import pytest
import requests
from openai import BadRequestError, OpenAI
from PIL import Image

from tests.e2e.hub_stand_in import HubStandIn
from tests.e2e.prepared_models import DEFAULT_MODEL, checked, run_ovserve
from tests.e2e.server import REPO, serving
from tests.e2e.test_disconnect_and_batching import open_stream_and_drop, wait_until_idle
from tests.e2e.tiny_vlm import IMAGE_TOKENS

VLM = "tiny-vlm"
# Four images as different as can be: CLIP resizes every image to 56x56, which averages noise away.
COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
MAX_IMAGES = 3
MAX_PIXELS = 512 * 512


def png(color=None, size=(48, 40), seed=None, format_name="PNG"):
    if seed is not None:  # noise: every pixel its own, so two seeds are two very different images
        image = Image.frombytes(
            "RGB", size, bytes((seed * 7919 + index * 131) % 251 for index in range(size[0] * size[1] * 3))
        )
    else:
        image = Image.new("RGB", size, color)
    buffer = io.BytesIO()
    image.save(buffer, format_name)
    return buffer.getvalue()


def data_url(data, media_type="image/png"):
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def user(*parts):
    return [{"role": "user", "content": list(parts)}]


def image_part(url):
    return {"type": "image_url", "image_url": {"url": url}}


TEXT = {"type": "text", "text": "What is in the picture?"}


@pytest.fixture(scope="module")
def media_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vision-media")
    (folder / "red.png").write_bytes(png((255, 0, 0)))
    return folder


@pytest.fixture(scope="module")
def image_host():
    """A loopback http server of two images; the servable allows 'localhost' only, so the same files
    named by 127.0.0.1 are refused."""
    files = {"/red.png": png((255, 0, 0)), "/big.png": png(seed=1, size=(600, 600))}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def exported_vlm(tmp_path_factory, media_folder):
    """(root folder, the exported model, the config with the default LLM and the VLM)."""
    root = tmp_path_factory.mktemp("vision")
    source, model, config = root / "tiny-llava", root / "models" / VLM, root / "config.json"
    subprocess.run([sys.executable, "-m", "tests.e2e.tiny_vlm", str(source)], cwd=REPO, check=True, timeout=300)
    checked(
        run_ovserve(
            "export",
            source,
            "--task",
            "image_text_to_text",
            "--weight-format",
            "fp16",
            "--output-dir",
            model,
            "--add-to-config",
            config,
            "--name",
            VLM,
        )
    )
    graph = json.loads((model / "graph.json").read_text())
    graph["nodes"][0]["options"].update(
        cache_size=1,
        deterministic=True,
        enable_prefix_caching=False,
        max_images=MAX_IMAGES,
        max_image_pixels=MAX_PIXELS,
        allowed_media_domains=["localhost"],
        allowed_local_media_path=str(media_folder),
    )
    (model / "graph.json").write_text(json.dumps(graph, indent=2))
    document = json.loads(config.read_text())
    document["servables"].insert(0, {"name": DEFAULT_MODEL, "base_path": str(REPO / "servables" / "smollm2")})
    config.write_text(json.dumps(document, indent=2))
    return root, model, config


@pytest.fixture(scope="module")
def vision_server(exported_vlm):
    root, _, config = exported_vlm
    with serving(config, log_path=root / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def openai_client(vision_server):
    return OpenAI(base_url=vision_server.base + "/v3", api_key="unused", max_retries=0, timeout=60)


def answer(client, messages, **options):
    result = client.chat.completions.create(model=VLM, messages=messages, max_tokens=6, temperature=0, **options)
    return result.choices[0].message.content, result.usage.prompt_tokens


def test_models_lists_image_among_the_vlms_inputs(vision_server):
    cards = {card["id"]: card for card in requests.get(vision_server.base + "/v3/models", timeout=30).json()["data"]}
    assert cards[VLM]["architecture"]["input_modalities"] == ["text", "image"]
    assert cards[VLM]["architecture"]["modality"] == "text+image->text"
    assert cards[DEFAULT_MODEL]["architecture"]["input_modalities"] == ["text"]


def test_an_image_reaches_the_engine_and_the_same_image_gives_the_same_answer(openai_client):
    text_only, text_tokens = answer(openai_client, user(TEXT))
    answers = {seed: answer(openai_client, user(TEXT, image_part(data_url(png(COLORS[seed]))))) for seed in range(4)}
    # The image's tokens and the new line that joins the two parts.
    assert {tokens for _, tokens in answers.values()} == {text_tokens + IMAGE_TOKENS + 1}
    texts = [text for text, _ in answers.values()]
    assert len(set(texts)) > 1, f"four different images gave one answer: {texts}"
    assert answer(openai_client, user(TEXT, image_part(data_url(png(COLORS[2])))))[0] == answers[2][0]
    assert text_only is not None


def test_several_images_count_each(openai_client):
    one = answer(openai_client, user(image_part(data_url(png(seed=1)))))[1]
    three = answer(openai_client, user(*[image_part(data_url(png(seed=seed))) for seed in range(3)]))[1]
    assert three - one >= 2 * IMAGE_TOKENS


def test_a_template_that_cannot_place_images_gets_universal_tags(openai_client):
    # The tiny template writes <image> for an image part, but not with tools it doesn't know: their
    # instructions are written into the messages' text, and each image's place is openvino_genai's tag.
    tools = [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}]
    without = answer(openai_client, user(TEXT), tools=tools)[1]
    with_image = answer(openai_client, user(TEXT, image_part(data_url(png(COLORS[0])))), tools=tools)[1]
    assert with_image == without + IMAGE_TOKENS + 1


def test_streaming_with_an_image_gives_the_unary_answer(openai_client):
    messages = user(TEXT, image_part(data_url(png(seed=3), "image/png")))
    unary, _ = answer(openai_client, messages)
    stream = openai_client.chat.completions.create(
        model=VLM, messages=messages, max_tokens=6, temperature=0, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == unary
    assert chunks[-1].usage.completion_tokens > 0


def test_image_requests_are_batched_together_with_their_own_answers(openai_client, vision_server):
    alone = {seed: answer(openai_client, user(TEXT, image_part(data_url(png(COLORS[seed])))))[0] for seed in range(4)}
    with ThreadPoolExecutor(8) as pool:
        together = list(
            pool.map(
                lambda seed: answer(openai_client, user(TEXT, image_part(data_url(png(COLORS[seed % 4])))))[0], range(8)
            )
        )
    assert together == [alone[seed % 4] for seed in range(8)]


def test_a_client_that_leaves_an_image_stream_frees_the_engine(vision_server):
    http = requests.Session()
    body = {
        "model": VLM,
        "messages": user(TEXT, image_part(data_url(png(seed=5)))),
        "max_tokens": 3000,
        "ignore_eos": True,
        "stream": True,
    }
    received = open_stream_and_drop(vision_server.port, body, chunks_to_read=3)
    assert b"200 OK" in received.split(b"\r\n")[0]
    assert wait_until_idle(http, vision_server.base, model=VLM, timeout=20)["engine"]["live_requests"] == 0


def test_formats_and_sources(openai_client, vision_server, image_host, media_folder):
    red = answer(openai_client, user(TEXT, image_part(data_url(png((255, 0, 0))))))[0]
    for data, media_type in (
        (png((255, 0, 0), format_name="GIF"), "image/gif"),
        (png((255, 0, 0), format_name="WEBP"), "image/webp"),
    ):
        assert answer(openai_client, user(TEXT, image_part(data_url(data, media_type))))[1] > IMAGE_TOKENS
    assert answer(openai_client, user(TEXT, image_part(f"http://localhost:{image_host}/red.png")))[0] == red
    assert answer(openai_client, user(TEXT, image_part(f"file://{media_folder}/red.png")))[0] == red
    detail = {"type": "image_url", "image_url": {"url": data_url(png((255, 0, 0))), "detail": "low"}}
    assert answer(openai_client, user(TEXT, detail))[0] == red


def test_tokenize_counts_the_image_tokens(vision_server):
    def count(messages):
        body = {"model": VLM, "messages": messages}
        return requests.post(vision_server.base + "/v3/tokenize", json=body, timeout=30).json()["count"]

    assert count(user(TEXT, image_part(data_url(png(seed=1))))) == count(user(TEXT)) + IMAGE_TOKENS + 1


def test_responses_input_image(vision_server, openai_client):
    red = answer(openai_client, user(TEXT, image_part(data_url(png((255, 0, 0))))))[0]
    response = openai_client.responses.create(
        model=VLM,
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": TEXT["text"]},
                    {"type": "input_image", "image_url": data_url(png((255, 0, 0))), "detail": "auto"},
                ],
            }
        ],
        max_output_tokens=6,
        temperature=0,
        store=False,
    )
    assert response.output_text == red


def test_anthropic_image_block(vision_server, openai_client):
    red = answer(openai_client, user(TEXT, image_part(data_url(png((255, 0, 0))))))[0]
    claude = anthropic.Anthropic(base_url=vision_server.base, api_key="unused", max_retries=0, timeout=60)
    encoded = base64.b64encode(png((255, 0, 0))).decode()
    message = claude.messages.create(
        model=VLM,
        max_tokens=6,
        extra_body={"temperature": 0},  # (this SDK version has no temperature argument)
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": TEXT["text"]},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": encoded}},
                ],
            }
        ],
    )
    assert "".join(block.text for block in message.content if block.type == "text") == red
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(
            model=VLM,
            max_tokens=6,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}],
                }
            ],
        )
    assert "messages[0].content[0].source.url" in refused.value.body["error"]["message"]


BAD_IMAGES = [
    ("invalid_image", data_url(b"not an image")),
    ("invalid_image", "data:image/png;base64,%%%"),
    ("unsupported_image_format", data_url(png((1, 2, 3), format_name="BMP"), "image/bmp")),
    ("unsupported_image_format", data_url(png((1, 2, 3), format_name="BMP"), "image/png")),
    ("image_too_large", data_url(png(seed=1, size=(600, 600)))),
    ("image_url_not_allowed", "https://example.com/cat.png"),
    ("image_url_not_allowed", "file:///etc/passwd"),
    ("invalid_image_url", "ftp://example.com/cat.png"),
]


@pytest.mark.parametrize("code, url", BAD_IMAGES)
def test_each_bad_image_is_a_400_naming_its_part(openai_client, code, url):
    with pytest.raises(BadRequestError) as refused:
        answer(openai_client, user(TEXT, image_part(url)))
    error = refused.value.body
    assert (error["code"], error["param"]) == (code, "messages[0].content[1].image_url"), error


def test_remote_refusals_name_the_part(openai_client, image_host):
    for url, code in (
        (f"http://127.0.0.1:{image_host}/red.png", "image_url_not_allowed"),  # the host is not the allowed name
        (f"http://localhost:{image_host}/absent.png", "image_fetch_failed"),
        (f"http://localhost:{image_host}/big.png", "image_too_large"),  # over max_image_pixels
    ):
        with pytest.raises(BadRequestError) as refused:
            answer(openai_client, user(image_part(url)))
        assert (refused.value.body["code"], refused.value.body["param"]) == (code, "messages[0].content[0].image_url")


def test_too_many_images_and_images_to_a_text_model(openai_client):
    parts = [image_part(data_url(png(seed=seed))) for seed in range(MAX_IMAGES + 1)]
    with pytest.raises(BadRequestError) as refused:
        answer(openai_client, user(*parts))
    assert refused.value.body["code"] == "too_many_images"
    assert refused.value.body["param"] == f"messages[0].content[{MAX_IMAGES}].image_url"
    with pytest.raises(BadRequestError) as refused:
        openai_client.chat.completions.create(
            model=DEFAULT_MODEL, messages=user(TEXT, image_part(data_url(png(seed=1)))), max_tokens=4
        )
    assert refused.value.body["code"] == "unsupported_model_capability"
    assert refused.value.body["param"] == "messages[0].content[1].image_url"


def test_the_vlm_still_answers_text_and_completions(openai_client):
    assert answer(openai_client, [{"role": "user", "content": "Hi"}])[1] > 0
    completion = openai_client.completions.create(model=VLM, prompt="Once upon", max_tokens=4, temperature=0)
    assert completion.usage.completion_tokens > 0


@pytest.mark.parametrize("images", [0, 1])
def test_the_models_own_placeholder_typed_in_the_text_is_a_400(openai_client, images):
    # The pipeline can't tell a typed "<image>" from an image's place (openvino_genai refuses the mismatch).
    parts = [{"type": "text", "text": "look: <image>"}] + [image_part(data_url(png(seed=1)))] * images
    with pytest.raises(BadRequestError) as refused:
        answer(openai_client, user(*parts))
    assert refused.value.body["param"] == "messages"


def test_pull_of_a_converted_vlm_writes_its_graph(exported_vlm):
    root, model, _ = exported_vlm
    repository = root / "hub" / "tiny-llava-ov"
    shutil.copytree(model, repository, ignore=shutil.ignore_patterns("graph.json"))
    with HubStandIn({"stand-in/tiny-llava-ov": repository}) as hub:
        environment = {"HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(root / "hf-home")}
        run = checked(run_ovserve("pull", "stand-in/tiny-llava-ov", "--models-dir", root / "pulled", env=environment))
    pulled = root / "pulled" / "stand-in" / "tiny-llava-ov"
    assert "image_text_to_text" in run.output
    graph = json.loads((pulled / "graph.json").read_text())
    assert graph["nodes"][0]["type"] == "llm_continuous_batching"
    assert (pulled / "openvino_vision_embeddings_model.xml").is_file()


def _odd_chat(*parts, role="user", **fields):
    return {"model": VLM, "messages": [{"role": role, "content": list(parts)}], "max_tokens": 2, **fields}


_NOISE = random.Random(20260)
_PNG = png((9, 9, 9))
# Odd image requests: answered or refused with a 4xx error object, never a 5xx (the schemathesis run of
# test_fuzz.py has no vision-language servable to reach).
ODD_IMAGE_BODIES = [
    ("url-number", "/v3/chat/completions", _odd_chat({"type": "image_url", "image_url": {"url": 5}})),
    ("url-list", "/v3/chat/completions", _odd_chat({"type": "image_url", "image_url": ["a"]})),
    ("url-null", "/v3/chat/completions", _odd_chat({"type": "image_url", "image_url": None})),
    (
        "detail-object",
        "/v3/chat/completions",
        _odd_chat({"type": "image_url", "image_url": {"url": "x", "detail": {}}}),
    ),
    ("random-bytes", "/v3/chat/completions", _odd_chat(image_part(data_url(_NOISE.randbytes(4096))))),
    ("truncated-png", "/v3/chat/completions", _odd_chat(image_part(data_url(_PNG[: len(_PNG) // 2])))),
    ("png-header-only", "/v3/chat/completions", _odd_chat(image_part(data_url(_PNG[:33])))),
    ("one-pixel", "/v3/chat/completions", _odd_chat(image_part(data_url(png((1, 1, 1), size=(1, 1)))))),
    ("tall-strip", "/v3/chat/completions", _odd_chat(image_part(data_url(png((1, 1, 1), size=(1, 2000)))))),
    ("empty-data", "/v3/chat/completions", _odd_chat(image_part("data:image/png;base64,"))),
    ("svg", "/v3/chat/completions", _odd_chat(image_part(data_url(b"<svg/>", "image/svg+xml")))),
    ("video-url", "/v3/chat/completions", _odd_chat({"type": "video_url", "video_url": {"url": "x"}})),
    ("assistant-image", "/v3/chat/completions", _odd_chat(image_part(data_url(_PNG)), role="assistant")),
    ("tool-image", "/v3/chat/completions", _odd_chat(image_part(data_url(_PNG)), role="tool", tool_call_id="a")),
    ("n-2", "/v3/chat/completions", _odd_chat(image_part(data_url(_PNG)), n=2, temperature=1)),
    ("logprobs", "/v3/chat/completions", _odd_chat(image_part(data_url(_PNG)), logprobs=True, temperature=0)),
    ("prompt-logprobs", "/v3/chat/completions", _odd_chat(image_part(data_url(_PNG)), prompt_logprobs=0)),
    (
        "json-schema",
        "/v3/chat/completions",
        _odd_chat(image_part(data_url(_PNG)), response_format={"type": "json_object"}),
    ),
    (
        "forced-tool",
        "/v3/chat/completions",
        _odd_chat(
            image_part(data_url(_PNG)),
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            tool_choice="required",
        ),
    ),
    ("genai-tag-typed", "/v3/chat/completions", _odd_chat({"type": "text", "text": "<ov_genai_image_0>"})),
    (
        "genai-tag-typed-with-image",
        "/v3/chat/completions",
        _odd_chat({"type": "text", "text": "<ov_genai_image_1>"}, image_part(data_url(_PNG))),
    ),
    (
        "tokenize-bad-image",
        "/v3/tokenize",
        {"model": VLM, "messages": [{"role": "user", "content": [image_part("x")]}]},
    ),
    (
        "responses-url-number",
        "/v3/responses",
        {"model": VLM, "input": [{"role": "user", "content": [{"type": "input_image", "image_url": 3}]}]},
    ),
    (
        "responses-bad-image",
        "/v3/responses",
        {
            "model": VLM,
            "store": False,
            "input": [{"role": "user", "content": [{"type": "input_image", "image_url": data_url(b"x")}]}],
        },
    ),
    (
        "messages-source-string",
        "/v1/messages",
        {"model": VLM, "max_tokens": 2, "messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]},
    ),
    (
        "messages-bad-base64",
        "/v1/messages",
        {
            "model": VLM,
            "max_tokens": 2,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "***"}}
                    ],
                }
            ],
        },
    ),
    (
        "count-tokens-image",
        "/v1/messages/count_tokens",
        {
            "model": VLM,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": base64.b64encode(_PNG).decode(),
                            },
                        }
                    ],
                }
            ],
        },
    ),
]


@pytest.mark.parametrize("label, path, body", ODD_IMAGE_BODIES, ids=[case[0] for case in ODD_IMAGE_BODIES])
def test_odd_image_requests_are_never_a_5xx(vision_server, label, path, body):
    answer = requests.post(vision_server.base + path, json=body, timeout=60)
    assert answer.status_code < 500, (label, answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert error["message"] and error["type"], (label, error)
