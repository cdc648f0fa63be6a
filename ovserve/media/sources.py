"""Where an image's bytes may come from, by the operator's policy: a `data:` URL always; an http(s) URL
only from the allowed domains (`allowed_media_domains`, none by default), within a size and a time
limit; a local file only under the allowed folder (`allowed_local_media_path`, none by default).

Every refusal is an InvalidRequest naming the request's part (`param`), so the client learns which
image of which message was refused and why.
"""

import base64
import binascii
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ovserve.errors import InvalidRequest

DATA_MEDIA_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif")
_DATA_URL = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+(=[\w.+-]+)?)*),(?P<data>.*)", re.S)


@dataclass(frozen=True)
class MediaPolicy:
    allowed_domains: tuple = ()  # host names, lower case; "*.example.com" allows its subdomains too
    allowed_local_path: Optional[Path] = None  # resolved
    fetch_timeout_seconds: float = 10.0
    max_bytes: int = 20 * 1024 * 1024

    def allows_host(self, host):
        host = (host or "").lower().rstrip(".")
        for allowed in self.allowed_domains:
            if allowed.startswith("*.") and (host == allowed[2:] or host.endswith(allowed[1:])):
                return True
            if host == allowed:
                return True
        return False


def read_data_url(url, param):
    """The bytes of a base64 `data:` URL of an image."""
    match = _DATA_URL.fullmatch(url)
    if match is None or ";base64" not in match["params"]:
        raise InvalidRequest(
            "An image data URL must read data:image/<png|jpeg|webp|gif>;base64,<data>.",
            param=param,
            code="invalid_image",
        )
    media_type = (match["type"] or "").lower()
    if media_type and media_type not in DATA_MEDIA_TYPES:
        raise InvalidRequest(
            f"Image type '{media_type}' is not supported; send image/png, image/jpeg, image/webp or image/gif.",
            param=param,
            code="unsupported_image_format",
        )
    try:
        return base64.b64decode("".join(match["data"].split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("The image's base64 data is not valid.", param=param, code="invalid_image") from None


def read_image_source(url, policy, param):
    """The encoded bytes an image URL names, if the policy allows its source."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "data":
        return read_data_url(url, param)
    if scheme in ("http", "https"):
        return _fetch(url, policy, param)
    if scheme == "file" or url.startswith("/"):
        return _read_local(url, policy, param)
    raise InvalidRequest(
        "An image URL must be a data: URL, or an http(s) or file URL the server allows.",
        param=param,
        code="invalid_image_url",
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could leave the allowed domains: it is refused, not followed.
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _fetch(url, policy, param):
    host = urllib.parse.urlsplit(url).hostname
    if not policy.allows_host(host):
        raise InvalidRequest(
            f"Images from '{host}' are not allowed on this server (allowed_media_domains).",
            param=param,
            code="image_url_not_allowed",
        )
    # The socket's timeout bounds each read; the deadline bounds them all (a server that drips bytes).
    deadline = time.monotonic() + policy.fetch_timeout_seconds
    try:
        with _OPENER.open(url, timeout=policy.fetch_timeout_seconds) as response:
            if response.status != 200:
                raise urllib.error.HTTPError(url, response.status, "not 200", response.headers, None)
            data = bytearray()
            while len(data) <= policy.max_bytes:
                chunk = response.read(min(65536, policy.max_bytes + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete answer within {policy.fetch_timeout_seconds:g} s")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InvalidRequest(
            f"The image could not be fetched from '{host}': {reason}.", param=param, code="image_fetch_failed"
        ) from None
    if len(data) > policy.max_bytes:
        raise InvalidRequest(
            f"The image at '{host}' is over {policy.max_bytes} bytes.", param=param, code="image_too_large"
        )
    return bytes(data)


def _read_local(url, policy, param):
    if policy.allowed_local_path is None:
        raise InvalidRequest(
            "Local image files are not allowed on this server (allowed_local_media_path).",
            param=param,
            code="image_url_not_allowed",
        )
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path) if url.startswith("file:") else url
    resolved = Path(os.path.realpath(path))
    if not resolved.is_relative_to(policy.allowed_local_path):
        raise InvalidRequest(
            "The image file is outside the folder this server allows (allowed_local_media_path).",
            param=param,
            code="image_url_not_allowed",
        )
    try:
        with open(resolved, "rb") as file:
            data = file.read(policy.max_bytes + 1)
    except OSError:
        raise InvalidRequest("The image file can't be read.", param=param, code="invalid_image_url") from None
    if len(data) > policy.max_bytes:
        raise InvalidRequest(f"The image file is over {policy.max_bytes} bytes.", param=param, code="image_too_large")
    return data
