"""Images in chat, the pure parts: data URLs, the source policy (domains, local folder), decoding with
Pillow within the limits, and the image tags the LLM node writes into the prompt."""

import base64
import io

import pytest
from PIL import Image

from ovserve.errors import InvalidRequest
from ovserve.media.decoding import ImageLimits, decode_image
from ovserve.media.sources import MediaPolicy, read_data_url, read_image_source
from ovserve.nodes.llm.vision import IMAGE_TAG_PATTERN, image_token_facts, template_places_images, with_image_tags

PARAM = "messages[0].content[1].image_url"


def encoded(image, format_name, **save):
    buffer = io.BytesIO()
    image.save(buffer, format_name, **save)
    return buffer.getvalue()


def data_url(data, media_type="image/png"):
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def refusal(function, *args):
    with pytest.raises(InvalidRequest) as raised:
        function(*args)
    assert raised.value.param is not None and raised.value.param.startswith(PARAM)
    return raised.value


@pytest.mark.parametrize("format_name", ["PNG", "JPEG", "WEBP", "GIF"])
def test_each_accepted_format_decodes_to_rgb_rows(format_name):
    image = Image.new("RGB", (5, 3), (200, 10, 30))
    decoded = decode_image(encoded(image, format_name), ImageLimits(), PARAM)
    assert (decoded.width, decoded.height) == (5, 3) and len(decoded.data) == 5 * 3 * 3


def test_png_pixels_are_kept_exactly_in_rgb_order():
    image = Image.new("RGB", (2, 1))
    image.putpixel((0, 0), (1, 2, 3))
    image.putpixel((1, 0), (4, 5, 6))
    assert decode_image(encoded(image, "PNG"), ImageLimits(), PARAM).data == bytes([1, 2, 3, 4, 5, 6])


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (4, 4), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(buffer.getvalue(), ImageLimits(), PARAM)
    red, green, blue = decoded.data[:3]
    assert red > 200 and blue < 50


def test_rgba_and_grey_images_become_rgb():
    for mode in ("RGBA", "L", "P"):
        decoded = decode_image(encoded(Image.new(mode, (3, 2)), "PNG"), ImageLimits(), PARAM)
        assert len(decoded.data) == 3 * 2 * 3


@pytest.mark.parametrize(
    "data, code",
    [
        (b"not an image", "invalid_image"),
        (b"", "invalid_image"),
        (encoded(Image.new("RGB", (64, 64)), "PNG")[:60], "invalid_image"),  # the header reads, the pixels don't
        (encoded(Image.new("RGB", (4, 4)), "BMP"), "unsupported_image_format"),
        (encoded(Image.new("RGB", (4, 4)), "TIFF"), "unsupported_image_format"),
    ],
)
def test_undecodable_or_unsupported_images_are_named(data, code):
    assert refusal(decode_image, data, ImageLimits(), PARAM).code == code


def test_the_pixel_limit_is_checked_before_decoding():
    data = encoded(Image.new("RGB", (100, 100)), "PNG")
    error = refusal(decode_image, data, ImageLimits(max_pixels=9999), PARAM)
    assert error.code == "image_too_large" and "100x100" in error.message
    assert decode_image(data, ImageLimits(max_pixels=10000), PARAM).width == 100


def test_the_byte_limit():
    data = encoded(Image.new("RGB", (10, 10)), "PNG")
    assert refusal(decode_image, data, ImageLimits(max_bytes=len(data) - 1), PARAM).code == "image_too_large"


def test_data_urls():
    png = encoded(Image.new("RGB", (2, 2)), "PNG")
    assert read_data_url(data_url(png), PARAM) == png
    assert read_data_url(data_url(png, "image/jpeg"), PARAM) == png  # the decoder tells the format, not the label
    assert refusal(read_data_url, data_url(png, "text/html"), PARAM).code == "unsupported_image_format"
    assert refusal(read_data_url, "data:image/png," + "x", PARAM).code == "invalid_image"  # not base64
    assert refusal(read_data_url, "data:image/png;base64,***", PARAM).code == "invalid_image"
    assert refusal(read_data_url, "data:nothing", PARAM).code == "invalid_image"


def test_remote_images_need_an_allowed_domain():
    closed = MediaPolicy()
    assert refusal(read_image_source, "https://example.com/cat.png", closed, PARAM).code == "image_url_not_allowed"
    allowed = MediaPolicy(allowed_domains=("images.example.com", "*.cdn.example.org"))
    assert allowed.allows_host("images.example.com") and allowed.allows_host("IMAGES.example.com.")
    assert allowed.allows_host("a.cdn.example.org") and allowed.allows_host("cdn.example.org")
    assert not allowed.allows_host("example.com") and not allowed.allows_host("evil-images.example.com")
    assert not allowed.allows_host("cdn.example.org.evil.com") and not allowed.allows_host(None)


def test_local_files_only_under_the_allowed_folder(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "cat.png").write_bytes(b"png bytes")
    (tmp_path / "secret.png").write_bytes(b"secret")
    (folder / "link.png").symlink_to(tmp_path / "secret.png")
    assert refusal(read_image_source, f"file://{folder}/cat.png", MediaPolicy(), PARAM).code == "image_url_not_allowed"
    policy = MediaPolicy(allowed_local_path=folder.resolve())
    assert read_image_source(f"file://{folder}/cat.png", policy, PARAM) == b"png bytes"
    assert read_image_source(str(folder / "cat.png"), policy, PARAM) == b"png bytes"
    for outside in (f"file://{folder}/../secret.png", str(folder / "link.png")):
        assert refusal(read_image_source, outside, policy, PARAM).code == "image_url_not_allowed"
    assert refusal(read_image_source, f"file://{folder}/absent.png", policy, PARAM).code == "invalid_image_url"


def test_other_schemes_are_refused():
    for url in ("ftp://example.com/a.png", "cat.png", "javascript:alert(1)"):
        assert refusal(read_image_source, url, MediaPolicy(), PARAM).code == "invalid_image_url"


def test_image_parts_become_numbered_tags_in_order():
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "and"}, {"type": "image"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "this?"}, {"type": "image"}]},
    ]
    tagged = with_image_tags(messages)
    assert [message["content"] for message in tagged] == [
        "be brief",
        "<ov_genai_image_0>\nand\n<ov_genai_image_1>",
        "ok",
        "this?\n<ov_genai_image_2>",
    ]
    assert IMAGE_TAG_PATTERN.split(tagged[1]["content"]) == ["", "0", "\nand\n", "1", ""]


def test_image_token_facts_of_a_llava_config(tmp_path):
    (tmp_path / "config.json").write_text(
        '{"model_type": "llava", "image_token_id": 7, "vision_config": {"image_size": 56, "patch_size": 14}}'
    )
    assert image_token_facts(tmp_path) == (7, 16)
    (tmp_path / "config.json").write_text('{"model_type": "qwen2_vl", "image_token_id": 9}')
    assert image_token_facts(tmp_path) == (9, None)  # a count that follows the image's size: not known here


def test_which_templates_place_images_themselves():
    assert template_places_images("{% if part['type'] == 'image' %}<image>{% endif %}")
    assert template_places_images('{{ content | selectattr("type", "equalto", "image") | list | length }}')
    assert not template_places_images("{{ message['content'] }}")


@pytest.fixture()
def image_site():
    """A loopback site: /cat.png, a redirect, a 404, a big answer and one that drips a byte at a time."""
    import http.server
    import threading
    import time

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/moved.png":
                self.send_response(302)
                self.send_header("Location", "/cat.png")
                self.end_headers()
                return
            body = {"/cat.png": b"png bytes", "/big.png": b"x" * 5000, "/drip.png": b"x" * 50}.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            if self.path == "/drip.png":
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.05)
                return
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetching_from_an_allowed_domain(image_site):
    policy = MediaPolicy(allowed_domains=("127.0.0.1",), fetch_timeout_seconds=1.0, max_bytes=1000)
    assert read_image_source(image_site + "/cat.png", policy, PARAM) == b"png bytes"
    for path, code in (
        ("/absent.png", "image_fetch_failed"),
        ("/moved.png", "image_fetch_failed"),  # a redirect could leave the allowed domains: not followed
        ("/big.png", "image_too_large"),
        ("/drip.png", "image_fetch_failed"),  # 50 bytes at 20 a second: past the 1 s deadline
    ):
        assert refusal(read_image_source, image_site + path, policy, PARAM).code == code, path
