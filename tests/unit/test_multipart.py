"""Reading multipart/form-data bodies: fields, files, limits and every malformed form a 4xx."""

import falcon.testing
import pytest

from ovserve.errors import InvalidRequest
from ovserve.http.body import BodyTooLarge
from ovserve.http.multipart import is_multipart, read_multipart

BOUNDARY = "ovserve-test-boundary"


def _form(*parts, boundary=BOUNDARY):
    """parts: (name, value) for text fields, (name, filename, content_type, bytes) for files."""
    chunks = []
    for part in parts:
        chunks.append(f"--{boundary}\r\n".encode())
        if len(part) == 2:
            name, value = part
            chunks.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            chunks.append(value if isinstance(value, bytes) else value.encode())
        else:
            name, filename, content_type, data = part
            chunks.append(
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n".encode()
            )
            chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def _request(body, content_type=f"multipart/form-data; boundary={BOUNDARY}"):
    headers = {"Content-Type": content_type} if content_type else {}
    return falcon.testing.create_req(method="POST", path="/v3/audio/transcriptions", body=body, headers=headers)


def test_text_fields_files_and_lists_are_read():
    audio = bytes(range(256)) * 10
    body = _form(
        ("model", "whisper"),
        ("file", "a.wav", "audio/wav", audio),
        ("timestamp_granularities[]", "segment"),
        ("timestamp_granularities[]", "word"),
        ("prompt", "héllo"),
    )
    form = read_multipart(_request(body))
    assert form.text("model", required=True) == "whisper"
    assert form.text("prompt") == "héllo"
    assert form.text("language") is None
    assert form.texts("timestamp_granularities") == ["segment", "word"]
    upload = form.file("file")
    assert (upload.filename, upload.content_type, upload.data) == ("a.wav", "audio/wav", audio)
    assert form.fields() == {"model": "whisper", "timestamp_granularities": ["segment", "word"], "prompt": "héllo"}


def test_required_field_missing_names_it():
    form = read_multipart(_request(_form(("model", "m"))))
    with pytest.raises(InvalidRequest) as missing_file:
        form.file("file")
    assert missing_file.value.param == "file"
    with pytest.raises(InvalidRequest) as missing_text:
        form.text("prompt", required=True)
    assert missing_text.value.param == "prompt"
    assert form.file("image", required=False) is None


def test_field_given_twice_is_refused():
    form = read_multipart(
        _request(_form(("model", "a"), ("model", "b"), ("f", "x.bin", "a/b", b"1"), ("f", "y", "a/b", b"2")))
    )
    with pytest.raises(InvalidRequest) as twice:
        form.text("model")
    assert twice.value.param == "model"
    with pytest.raises(InvalidRequest):
        form.fields()
    with pytest.raises(InvalidRequest) as two_files:
        form.file("f")
    assert two_files.value.param == "f"
    assert len(form.files("f")) == 2


def test_list_field_where_one_value_expected_is_refused():
    form = read_multipart(_request(_form(("model[]", "a"))))
    with pytest.raises(InvalidRequest):
        form.text("model")


def test_file_given_as_text_and_text_given_as_file_are_refused():
    form = read_multipart(_request(_form(("file", "not a file"), ("model", "m.txt", "text/plain", b"m"))))
    with pytest.raises(InvalidRequest, match="file upload") as as_text:
        form.file("file")
    assert as_text.value.param == "file"
    with pytest.raises(InvalidRequest, match="text field"):
        form.text("model")


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain", "multipart/mixed; boundary=x"])
def test_not_multipart_form_data_is_400(content_type):
    with pytest.raises(InvalidRequest, match="multipart/form-data"):
        read_multipart(_request(b'{"model": "m"}', content_type=content_type))


def test_missing_boundary_is_400():
    with pytest.raises(InvalidRequest, match="malformed"):
        read_multipart(_request(_form(("model", "m")), content_type="multipart/form-data"))


@pytest.mark.parametrize(
    "body",
    [
        b"this is not a form",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nm'.encode(),  # never closed
        f"--{BOUNDARY}\r\nno headers end here".encode(),
    ],
)
def test_malformed_body_is_400(body):
    with pytest.raises(InvalidRequest):
        read_multipart(_request(body))


def test_empty_body_is_400():
    with pytest.raises(InvalidRequest, match="empty"):
        read_multipart(_request(b""))


def test_part_without_name_is_400():
    body = f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()
    with pytest.raises(InvalidRequest, match="no name"):
        read_multipart(_request(body))


def test_text_field_not_utf8_is_400_naming_it():
    with pytest.raises(InvalidRequest) as bad:
        read_multipart(_request(_form(("prompt", b"\xff\xfe"))))
    assert bad.value.param == "prompt"


def test_body_over_the_limit_is_413():
    body = _form(("file", "a.wav", "audio/wav", b"x" * 2000))
    with pytest.raises(BodyTooLarge) as too_large:
        read_multipart(_request(body), max_bytes=1000)
    assert too_large.value.status == 413


def test_file_over_its_limit_is_400_naming_it():
    body = _form(("file", "a.wav", "audio/wav", b"x" * 2000))
    with pytest.raises(InvalidRequest) as too_large:
        read_multipart(_request(body), max_file_bytes=1999)
    assert too_large.value.param == "file"
    assert read_multipart(_request(body), max_file_bytes=2000).file("file").data == b"x" * 2000


def test_a_file_larger_than_falcons_default_part_buffer_is_read():
    data = b"\x01" * (3 * 1024 * 1024)
    assert read_multipart(_request(_form(("file", "a.wav", "audio/wav", data)))).file("file").data == data


def test_is_multipart():
    assert is_multipart("multipart/form-data; boundary=abc")
    assert is_multipart("Multipart/Form-Data")
    assert not is_multipart("application/json")
    assert not is_multipart(None)
