"""Request content types, sent with the real curl as users type it: `curl -d '{...}'` without a
Content-Type header sends application/x-www-form-urlencoded, which is read as JSON (as OVMS does)."""

import json
import shutil
import subprocess

import pytest

from tests.e2e.conftest import DEFAULT_MODEL

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
CHAT = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}


def curl(url, *arguments):
    """(status, body) of one curl call."""
    completed = subprocess.run(
        ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *arguments, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    body, _, status = completed.stdout.rpartition("\n")
    return int(status), body


def test_curl_d_without_a_content_type_is_served(base_url):
    status, body = curl(base_url + "/v3/chat/completions", "-d", json.dumps(CHAT))
    assert status == 200, body
    assert json.loads(body)["object"] == "chat.completion"


def test_text_plain_is_refused_and_a_bad_form_body_is_a_400(base_url):
    # text/plain is what a web page may post across origins without a CORS preflight: refused
    status, body = curl(base_url + "/tokenize", "-H", "Content-Type: text/plain", "-d", '{"prompt": "Hi"}')
    assert status == 415 and "text/plain" in json.loads(body)["error"]["message"]
    status, body = curl(base_url + "/v3/tokenize", "-d", '{"prompt": "Hi"}')
    assert status == 400 and json.loads(body)["error"]["param"] == "model"  # read as JSON: the model is missing
    status, body = curl(base_url + "/v3/chat/completions", "-d", "model=x&messages=y")
    assert status == 400 and "not valid JSON" in json.loads(body)["error"]["message"]


def test_curl_form_upload_is_415(base_url):
    status, body = curl(base_url + "/v3/chat/completions", "-F", f"model={DEFAULT_MODEL}")
    assert status == 415
    error = json.loads(body)["error"]
    assert "multipart/form-data" in error["message"] and set(error) == {"message", "type", "param", "code"}
