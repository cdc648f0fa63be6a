"""The image routes' parsing (JSON and form), the upload header checks and the engine's codec, without an engine."""

import io

import numpy
import pytest
from PIL import Image

from ovserve.errors import InvalidRequest
from ovserve.graph.images import ImagesResult
from ovserve.http.multipart import parse_multipart
from ovserve.nodes.image_generation import codec
from ovserve.nodes.image_generation.messages import GeneratedImages, ImageJob
from ovserve.nodes.image_generation.uploads import image_size
from ovserve.protocol.images import ImagesWriter, parse_edit, parse_generation
from ovserve.runtime.engine import RequestRejected
from ovserve.runtime.messages import RequestUpdates, SubmitRequest, decode

BOUNDARY = "images-test"


def png(size=(16, 8), mode="RGB", color=(1, 2, 3)):
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG")
    return buffer.getvalue()


def form(fields, files=()):
    chunks = []
    for name, value in fields.items():
        chunks.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, data in files:
        chunks.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="f.png"\r\n'
            "Content-Type: image/png\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()
    return parse_multipart(body, f"multipart/form-data; boundary={BOUNDARY}")


def test_generation_fields_become_the_input():
    call = parse_generation(
        {"model": "sd", "prompt": "a cat", "n": 2, "size": "64x32", "seed": 5, "output_format": "webp"}, "rid"
    )
    given = call.graph_input
    assert (call.model, given.prompt, given.n, given.width, given.height) == ("sd", "a cat", 2, 64, 32)
    assert (given.seed, given.output_format, given.image, given.request_id) == (5, "webp", None, "rid")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x"}, "model"),
        ({"model": "sd"}, "prompt"),
        ({"model": "sd", "prompt": "x", "response_format": "url"}, "response_format"),
        ({"model": "sd", "prompt": "x", "size": "64"}, "size"),
        ({"model": "sd", "prompt": "x", "n": 0}, "n"),
        ({"model": "sd", "prompt": "x", "strength": 0.5}, "strength"),
        ({"model": "sd", "prompt": "x", "seed": 2**32}, "seed"),
    ],
)
def test_bad_generation_fields_name_the_field(body, param):
    with pytest.raises(InvalidRequest) as refused:
        parse_generation(body)
    assert refused.value.param == param


def test_size_auto_and_empty_negative_prompt_mean_the_defaults():
    given = parse_generation({"model": "sd", "prompt": "x", "size": "auto", "negative_prompt": ""}).graph_input
    assert (given.width, given.height, given.negative_prompt) == (None, None, None)


def test_edit_form_numbers_and_files():
    image, mask = png(), png(mode="L", color=255)
    call = parse_edit(
        form({"model": "sd", "prompt": "p", "n": "2", "strength": "0.5"}, [("image[]", image), ("mask", mask)])
    )
    given = call.graph_input
    assert (given.n, given.strength, given.image, given.mask) == (2, 0.5, image, mask)


@pytest.mark.parametrize(
    ("fields", "files", "param"),
    [
        ({"model": "sd", "prompt": "p"}, [], "image"),
        ({"model": "sd", "prompt": "p", "image": "text"}, [], "image"),
        ({"model": "sd", "prompt": "p"}, [("image", b"a"), ("image", b"b")], "image"),
        ({"model": "sd", "prompt": "p", "n": "two"}, [("image", b"a")], "n"),
        ({"model": "sd", "prompt": "p", "guidance_scale": "inf"}, [("image", b"a")], "guidance_scale"),
        ({"model": "sd", "prompt": "p", "strength": "2"}, [("image", b"a")], "strength"),
        ({"model": "sd"}, [("image", b"a")], "prompt"),
    ],
)
def test_bad_edit_forms_name_the_field(fields, files, param):
    with pytest.raises(InvalidRequest) as refused:
        parse_edit(form(fields, files))
    assert refused.value.param == param


def test_upload_headers_are_checked_before_decoding():
    assert image_size(png((30, 20)), "image", 10**6, 10**6) == (30, 20)
    for data, limits, code in (
        (b"GIF89a", (10**6, 10**6), "invalid_image"),
        (png((30, 20)), (10, 10**6), "file_too_large"),
        (png((30, 20)), (10**6, 599), "image_too_large"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            image_size(data, "mask", *limits)
        assert (refused.value.param, refused.value.code) == ("mask", code)
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    with pytest.raises(InvalidRequest, match="GIF"):
        image_size(gif.getvalue(), "image", 10**6, 10**6)


def test_codec_resizes_and_reads_masks_both_ways():
    image, mask = codec.decode_edit(png((16, 8)), png((16, 8), "RGBA", (0, 0, 0, 0)), (8, 8))
    assert image.shape == (1, 8, 8, 3) and image.dtype == numpy.uint8
    assert mask.shape == (1, 8, 8, 3) and mask.min() == 255  # all transparent: all repainted
    _, black = codec.decode_edit(png(), png(mode="L", color=0), (16, 8))
    assert black.max() == 0  # no alpha: black is kept
    _, none = codec.decode_edit(png(), None, (16, 8))
    assert none is None
    with pytest.raises(RequestRejected) as refused:
        codec.decode_edit(png()[:40], None, (16, 8))
    assert refused.value.param == "image"


def test_codec_encodes_each_format():
    pixels = numpy.zeros((2, 8, 16, 3), dtype=numpy.uint8)
    for output_format, pil_format in codec.PIL_FORMATS.items():
        files = codec.encode(pixels, output_format)
        assert [Image.open(io.BytesIO(data)).format for data in files] == [pil_format] * 2
        assert Image.open(io.BytesIO(files[0])).size == (16, 8)


def test_messages_cross_the_wire_and_the_writer_answers():
    job = ImageJob("p", 1, 64, 64, 20, None, 7, None, None, png(), None, "png")
    assert decode(SubmitRequest(3, job).to_wire()).request == job
    generated = GeneratedImages((png(),), 16, 8, 20)
    updates = decode(RequestUpdates(((3, generated, True),)).to_wire())
    assert updates.updates[0][1] == generated
    body = ImagesWriter().body(ImagesResult(generated.images, "png", 16, 8, 20, 7))
    assert body["size"] == "16x8" and body["seed"] == 7 and len(body["data"]) == 1
