"""Image generation and edits: a tiny random Stable Diffusion built and exported at test time, served
next to the default LLM from one config, driven with the openai client and plain HTTP.

Its images are noise: what must hold is the shape of the answers (n PNG files that Pillow opens at the
requested size), the edits (image-to-image, inpainting with a mask), concurrent and cancelled requests,
and a 400 naming the field for every bad input, the engine serving on after each. Never the pixels:
numerics differ between CPUs, so not even a seed's determinism is asserted.
"""

import base64
import io
import json
import shutil
import socket
import threading
import time

import pytest
import requests
import schemathesis
from openai import BadRequestError, OpenAI
from PIL import Image
from schemathesis.checks import not_a_server_error

from ovserve.http.openapi import build_openapi
from tests.e2e.hub_stand_in import HubStandIn
from tests.e2e.prepared_models import checked, run_ovserve
from tests.e2e.server import REPO, serving
from tests.e2e.test_fuzz import CONFIG, openai_error_on_4xx
from tests.e2e.tiny_diffusion import export_tiny_diffusion

LLM = "HuggingFaceTB/SmolLM2-135M-Instruct"
IMAGES = "tiny-sd"
# The limits the tests reach (the defaults but a long max_num_inference_steps, for a request to cancel).
# The node's defaults, but smaller images (the fuzzed requests stay cheap) and steps up to the scheduler's
# 1000 (the cancelled request asks for all of them).
LIMITS = {"max_n": 3, "max_width": 128, "max_height": 128, "max_num_inference_steps": 5000}
FEW_STEPS = {"num_inference_steps": 3}


@pytest.fixture(scope="module")
def images_config(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    config = root / "config.json"
    config.write_text(json.dumps({"servables": [{"name": LLM, "base_path": str(REPO / "servables" / "smollm2")}]}))
    exported = export_tiny_diffusion(root, config, IMAGES)
    graph_path = exported / "graph.json"
    graph = json.loads(graph_path.read_text())
    graph["nodes"][0]["options"].update(LIMITS)
    graph_path.write_text(json.dumps(graph))
    return config


@pytest.fixture(scope="module")
def images_server(images_config, tmp_path_factory):
    with serving(images_config, log_path=tmp_path_factory.mktemp("images-server") / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def client(images_server):
    return OpenAI(base_url=images_server.url, api_key="unused", max_retries=0, timeout=60)


def opened(b64):
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def engine_stats(server):
    return requests.get(f"{server.base}/v2/models/{IMAGES}/stats").json()["nodes"]["images"]["engine"]


def test_models_list_the_image_servable_beside_the_llm(images_server):
    cards = {card["id"]: card for card in requests.get(images_server.url + "/models").json()["data"]}
    assert cards[LLM]["kind"] == "text_generation"
    card = cards[IMAGES]
    assert card["kind"] == "image_generation" and card["capabilities"] == ["images.generations", "images.edits"]
    assert card["architecture"]["output_modalities"] == ["image"]
    assert (
        card["max_n"] == 3
        and card["max_num_inference_steps"] == 1000
        and card["edits"] is True
        and card["inpainting"] is True
    )
    assert card["default_size"] == "64x64"  # the tiny UNet's sample size x the VAE's factor of 2


def test_pull_of_an_openvino_diffusers_repository(images_config, tmp_path):
    """`ovserve pull` from a stand-in hub serving the export (as an OpenVINO/...-ov repository would)."""
    repository = tmp_path / "repository"
    shutil.copytree(
        images_config.parent / "models" / "tiny-sd", repository, ignore=shutil.ignore_patterns("graph.json")
    )
    config = tmp_path / "config.json"
    with HubStandIn({"OpenVINO/tiny-sd-ov": repository}) as hub:
        environment = {"HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(tmp_path / "hf")}
        checked(
            run_ovserve(
                "pull",
                "OpenVINO/tiny-sd-ov",
                "--models-dir",
                tmp_path / "models",
                "--add-to-config",
                config,
                env=environment,
            )
        )
    pulled = tmp_path / "models" / "OpenVINO" / "tiny-sd-ov"
    assert (pulled / "unet" / "openvino_model.xml").is_file()
    node = json.loads((pulled / "graph.json").read_text())["nodes"][0]
    assert node["type"] == "image_generation" and node["options"]["models_path"] == "."
    assert [entry["name"] for entry in json.loads(config.read_text())["servables"]] == ["OpenVINO/tiny-sd-ov"]


def test_generate_with_the_openai_client(client):
    response = client.images.generate(model=IMAGES, prompt="a red cube", n=2, size="64x48", extra_body=FEW_STEPS)
    images = [opened(item.b64_json) for item in response.data]
    assert [(image.format, image.size, image.mode) for image in images] == [("PNG", (64, 48), "RGB")] * 2
    assert response.size == "64x48" and response.output_format == "png"
    assert response.model_extra["num_inference_steps"] == 3 and isinstance(response.model_extra["seed"], int)


def test_output_format_and_defaults_over_http(images_server):
    answer = requests.post(
        images_server.url + "/images/generations",
        json={"model": IMAGES, "prompt": "a cube", "output_format": "jpeg", "seed": 7, **FEW_STEPS},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    image = opened(body["data"][0]["b64_json"])
    assert (image.format, image.size, len(body["data"]), body["seed"]) == ("JPEG", (64, 64), 1, 7)


def test_llm_answers_from_the_same_server(client):
    chat = client.chat.completions.create(model=LLM, messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
    assert chat.choices[0].message.content


def test_inpainting_edit_with_a_mask(client):
    generated = client.images.generate(model=IMAGES, prompt="a house", size="64x64", extra_body=FEW_STEPS)
    source = base64.b64decode(generated.data[0].b64_json)
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (16, 16, 48, 48))  # OpenAI's convention: the transparent square is repainted
    edited = client.images.edit(
        model=IMAGES,
        image=("house.png", source, "image/png"),
        mask=("mask.png", png_bytes(mask), "image/png"),
        prompt="a house with a door",
        n=2,
        extra_body=FEW_STEPS,
    )
    assert [opened(item.b64_json).size for item in edited.data] == [(64, 64)] * 2 and edited.size == "64x64"


def test_image_to_image_edit_resizes_to_the_size_asked(client):
    source = png_bytes(Image.new("RGB", (80, 72), (200, 30, 30)))
    edited = client.images.edit(
        model=IMAGES,
        image=[("red.png", source, "image/png")],  # the client sends a list as image[]
        prompt="a red wall",
        size="32x32",
        extra_body={"strength": 0.5, "num_inference_steps": 4},
    )
    assert opened(edited.data[0].b64_json).size == (32, 32)
    # strength 0.5 of 4 steps: the pipeline runs the last 2
    assert edited.model_extra["num_inference_steps"] == 2
    own_size = client.images.edit(
        model=IMAGES, image=("red.png", source, "image/png"), prompt="a", extra_body=FEW_STEPS
    )
    assert own_size.size == "80x72"


def test_concurrent_requests_all_answered(client):
    answers, errors = [], []

    def generate(index):
        try:
            answers.append(client.images.generate(model=IMAGES, prompt=f"cube {index}", extra_body=FEW_STEPS))
        except Exception as exc:  # collected: asserted below
            errors.append(exc)

    threads = [threading.Thread(target=generate, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(answers) == 4
    assert all(opened(answer.data[0].b64_json).size == (64, 64) for answer in answers)


def wait_for(condition, what, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)


def test_a_long_generation_leaves_the_server_responsive_and_stops_when_its_client_leaves(images_server, client):
    cancelled_before = engine_stats(images_server)["cancelled"]
    body = json.dumps({"model": IMAGES, "prompt": "slow", "size": "128x128", "num_inference_steps": 1000}).encode()
    host, port = images_server.base.removeprefix("http://").split(":")
    leaving = socket.create_connection((host, int(port)))
    leaving.sendall(
        b"POST /v3/images/generations HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    try:
        # The engine's stats go on arriving while it generates: its loop turns, the steps show.
        wait_for(lambda: engine_stats(images_server)["running_steps"] > 0, "the generation to run its first steps")
        assert requests.get(f"{images_server.base}/v2/models/{IMAGES}/ready").status_code == 200
        assert requests.get(images_server.base + "/v2/health/ready").status_code == 200
    finally:
        leaving.close()
    wait_for(lambda: engine_stats(images_server)["cancelled"] == cancelled_before + 1, "the cancellation")
    assert engine_stats(images_server)["running_requests"] == 0
    # the engine is free again at once: the next request does not wait for 1000 steps
    answer = client.images.generate(model=IMAGES, prompt="after", extra_body=FEW_STEPS, timeout=30)
    assert len(answer.data) == 1


BAD_GENERATIONS = [
    ({"n": 4}, "n"),
    ({"n": 0}, "n"),
    ({"size": "65x64"}, "size"),
    ({"size": "256x256"}, "size"),
    ({"size": "big"}, "size"),
    ({"response_format": "url"}, "response_format"),
    ({"num_inference_steps": 1001}, "num_inference_steps"),  # past the scheduler's 1000 trained timesteps
    ({"guidance_scale": 31}, "guidance_scale"),
    ({"seed": -1}, "seed"),
    ({"strength": 0.5}, "strength"),
    ({"prompt": ""}, "prompt"),
    ({"background": "transparent"}, None),
    ({"negative_prompt": "blur", "guidance_scale": 1}, "negative_prompt"),  # found by the fuzz test: was a 500
]


@pytest.mark.parametrize(("change", "param"), BAD_GENERATIONS)
def test_bad_generation_is_a_400_naming_the_field(images_server, change, param):
    answer = requests.post(
        images_server.url + "/images/generations", json={"model": IMAGES, "prompt": "x", **FEW_STEPS, **change}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param


def _edit_form(image=None, mask=None, **fields):
    files = {}
    if image is not None:
        files["image"] = ("in.png", image, "image/png")
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    files.setdefault("user", (None, "someone"))  # a text part: the body is a multipart form even without files
    return {"data": {"model": IMAGES, "prompt": "x", "num_inference_steps": "2", **fields}, "files": files}


PNG_64 = png_bytes(Image.new("RGB", (64, 64), (10, 200, 10)))
BAD_EDITS = [
    (_edit_form(), "image"),
    (_edit_form(b"not an image"), "image"),
    (_edit_form(PNG_64[: len(PNG_64) // 2]), "image"),  # a truncated PNG: its header reads, its pixels don't
    (_edit_form(png_bytes(Image.new("RGB", (200, 64)))), "image"),  # wider than max_width
    (_edit_form(PNG_64, png_bytes(Image.new("L", (32, 32)))), "mask"),  # not the image's size
    (_edit_form(PNG_64, b"GIF89a broken"), "mask"),
    (_edit_form(PNG_64, n="two"), "n"),
    (_edit_form(PNG_64, strength="1.5"), "strength"),
    (_edit_form(PNG_64, guidance_scale="nan"), "guidance_scale"),
    (_edit_form(PNG_64, strength="0.1"), "strength"),  # 0.1 of 2 steps runs none: the pipelines refuse it
]


@pytest.mark.parametrize(("form", "param"), BAD_EDITS)
def test_bad_edit_is_a_400_naming_the_field(images_server, form, param):
    answer = requests.post(images_server.url + "/images/edits", **form)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param


def test_openai_client_errors_and_the_engine_serves_on(client, images_server):
    with pytest.raises(BadRequestError) as refused:
        client.images.edit(model=IMAGES, image=("x.png", b"\x89PNG\r\n\x1a\n broken", "image/png"), prompt="x")
    assert refused.value.body["param"] == "image"
    assert len(client.images.generate(model=IMAGES, prompt="still here", extra_body=FEW_STEPS).data) == 1
    with pytest.raises(BadRequestError) as wrong_kind:
        client.images.generate(model=LLM, prompt="x")
    assert wrong_kind.value.body["code"] == "unsupported_model_capability"


def test_metrics_count_image_requests_images_and_steps(images_server):
    time.sleep(1.2)  # the engine's stats reach the workers every second
    page = requests.get(images_server.base + "/metrics").text
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in page.splitlines() if line[:1] != "#"}
    assert lines[f'ovms_requests_success{{api="V3",interface="REST",method="ImageGeneration",name="{IMAGES}"}}'] >= 5
    assert lines[f'ovms_requests_success{{api="V3",interface="REST",method="ImageEdit",name="{IMAGES}"}}'] >= 3
    assert lines[f'ovserve_images_generated_total{{name="{IMAGES}"}}'] >= 10
    assert lines[f'ovserve_images_denoising_steps_total{{name="{IMAGES}"}}'] >= 30
    assert lines[f'ovserve_images_requests_cancelled_total{{name="{IMAGES}"}}'] >= 1


# Fuzzing the image routes of the served document against the tiny model: never a 5xx, a 4xx always in
# OpenAI's error object. Valid generations are made cheap (at most 2 steps and 2 images).
IMAGE_ROUTES = schemathesis.openapi.from_dict(build_openapi([LLM, IMAGES]), config=CONFIG).include(
    path_regex="/images/"
)


def _cheap(body):
    if isinstance(body, dict):
        body = dict(body)
        if isinstance(body.get("num_inference_steps"), int):
            body["num_inference_steps"] = min(body["num_inference_steps"], 2)
        else:
            body.setdefault("num_inference_steps", 2)
        if isinstance(body.get("n"), int) and body["n"] > 2:
            body["n"] = 2
    return body


@IMAGE_ROUTES.parametrize()
def test_image_routes_fuzzed_never_a_server_error(case, images_server):
    case.body = _cheap(case.body)
    case.call_and_validate(base_url=images_server.base, checks=[not_a_server_error, openai_error_on_4xx], timeout=60)
