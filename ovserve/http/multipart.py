"""Reading a multipart/form-data request body (file uploads) into typed fields, each failure a clear 4xx.

How to use it in a resource (the body is read whole, within the server's max body size, then parsed by
Falcon's own multipart parser):

    from ovserve.http.multipart import read_multipart

    form = read_multipart(req, options.max_body_bytes, max_file_bytes=25 * 1024 * 1024)
    upload = form.file("file")                      # UploadedFile(filename, content_type, data); 400 if absent
    model = form.text("model", required=True)       # str; 400 if absent or given twice
    language = form.text("language")                # str or None
    granularities = form.texts("timestamp_granularities")  # list[str]: "name[]" and repeated "name" parts

`form.fields()` gives every text field as {name: str, or list[str] for names sent as "name[]"} (a name
given twice without "[]" is a 400), ready for a JSON Schema check in a protocol module; the values are
strings, so the protocol converts numbers and booleans itself.

Errors: a body over `max_bytes` is a 413 (as ovserve.http.body does for JSON); a Content-Type that is not
multipart/form-data, a missing boundary, a malformed body, a part that is not UTF-8 text, a missing
required field, a field given twice where one is expected, and a file over `max_file_bytes` are 400s
naming the field where there is one. A part with a filename is a file; one without is a text field.
"""

import io
from dataclasses import dataclass, field
from typing import Optional

import falcon
from falcon.media.multipart import MultipartFormHandler, MultipartParseOptions

from ovserve.errors import InvalidRequest
from ovserve.http.body import DEFAULT_MAX_BODY_BYTES, read_body_bytes

MULTIPART_FORM_DATA = "multipart/form-data"
LIST_SUFFIX = "[]"
# More parts than any OpenAI form sends; bounds the work a crafted body full of empty parts can cause.
MAX_PARTS = 256


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MultipartForm:
    """The parts of one form, by name in the order sent ("name[]" is stored under "name")."""

    text_parts: dict = field(default_factory=dict)  # name -> list[str]
    file_parts: dict = field(default_factory=dict)  # name -> list[UploadedFile]
    list_names: frozenset = frozenset()  # names that were sent as "name[]"

    def text(self, name: str, *, required: bool = False) -> Optional[str]:
        values = self.text_parts.get(name, [])
        if not values:
            if name in self.file_parts:
                raise InvalidRequest(f"'{name}' must be a text field, not a file upload.", param=name)
            if required:
                raise InvalidRequest(f"The form field '{name}' is required.", param=name)
            return None
        if len(values) > 1 or name in self.list_names:
            raise InvalidRequest(f"The form field '{name}' must be given once.", param=name)
        return values[0]

    def texts(self, name: str) -> list:
        """Every value of a repeatable field, sent as "name[]" (OpenAI's clients) or as repeated "name"."""
        return list(self.text_parts.get(name, []))

    def file(self, name: str, *, required: bool = True) -> Optional[UploadedFile]:
        uploads = self.file_parts.get(name, [])
        if not uploads:
            if name in self.text_parts:
                raise InvalidRequest(
                    f"'{name}' must be a file upload (a form part with a filename), not a text field.",
                    param=name,
                )
            if required:
                raise InvalidRequest(f"The file '{name}' is required.", param=name)
            return None
        if len(uploads) > 1:
            raise InvalidRequest(f"The file '{name}' must be given once.", param=name)
        return uploads[0]

    def files(self, name: str) -> list:
        return list(self.file_parts.get(name, []))

    def fields(self) -> dict:
        """Text fields as {name: str or list[str]}; a field given twice without "[]" is a 400."""
        result = {}
        for name, values in self.text_parts.items():
            if name in self.list_names:
                result[name] = list(values)
            else:
                result[name] = self.text(name)
        return result


def is_multipart(content_type: Optional[str]) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == MULTIPART_FORM_DATA


def read_multipart(
    req, max_bytes: int = DEFAULT_MAX_BODY_BYTES, *, max_file_bytes: Optional[int] = None
) -> MultipartForm:
    """The request's form; max_bytes bounds the whole body (413), max_file_bytes each file (400)."""
    if not is_multipart(req.content_type):
        media_type = (req.content_type or "").split(";")[0].strip().lower() or "none"
        raise InvalidRequest(
            f"Content-Type must be multipart/form-data (a form with a file upload), got '{media_type}'.",
            code="unsupported_content_type",
        )
    raw = read_body_bytes(req, max_bytes)
    return parse_multipart(raw, req.content_type, max_file_bytes=max_file_bytes)


def parse_multipart(raw: bytes, content_type: str, *, max_file_bytes: Optional[int] = None) -> MultipartForm:
    """Parse a whole body already read (and bounded) by the caller."""
    if not raw:
        raise InvalidRequest("The request body is empty; send a multipart/form-data form.")
    options = MultipartParseOptions()
    options.max_body_part_count = MAX_PARTS
    # The body is already bounded by max_bytes; Falcon's own 1 MiB default per part would refuse audio.
    options.max_body_part_buffer_size = len(raw)
    text_parts, file_parts, list_names = {}, {}, set()
    try:
        form = MultipartFormHandler(options).deserialize(io.BytesIO(raw), content_type, len(raw))
        for part in form:
            name = part.name
            if not name:
                raise InvalidRequest("A form part has no name in its Content-Disposition header.")
            if name.endswith(LIST_SUFFIX):
                name = name[: -len(LIST_SUFFIX)]
                list_names.add(name)
            if part.filename is not None:
                data = part.get_data()
                if max_file_bytes is not None and len(data) > max_file_bytes:
                    raise InvalidRequest(
                        f"The file '{name}' is {len(data)} bytes; the limit is {max_file_bytes}.",
                        param=name,
                        code="file_too_large",
                    )
                upload = UploadedFile(part.filename, part.content_type or "application/octet-stream", data)
                file_parts.setdefault(name, []).append(upload)
            else:
                text_parts.setdefault(name, []).append(_text_of(part, name))
    except falcon.HTTPError as exc:
        # MultipartParseError (malformed body, bad part headers) and HTTPInvalidHeader (no boundary).
        detail = exc.description or exc.title
        raise InvalidRequest(f"The multipart/form-data body is malformed: {detail}") from None
    return MultipartForm(text_parts, file_parts, frozenset(list_names))


def _text_of(part, name):
    try:
        return part.get_data().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The form field '{name}' is not valid UTF-8 (byte {exc.start}).", param=name) from None
