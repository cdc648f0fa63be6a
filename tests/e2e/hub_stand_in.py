"""A local stand-in for the Hugging Face hub, for testing `ovserve pull` with the real huggingface_hub.

These machines can't reach the hub, and a mock of the client would test nothing of the download
code. This server answers the few routes huggingface_hub uses to download a model: the repository
info (`/api/models/{repo}` and `.../revision/{rev}`) and the files (`HEAD`/`GET
/{repo}/resolve/{rev}/{path}`, with `Range` for resumed downloads), serving folders on disk.
Point the client at it with HF_ENDPOINT.

`cut_first_download_after` makes the first GET of each large file stop after that many bytes, as
a dropped connection would, to prove that downloads resume.
"""

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<path>.+)$")
_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<revision>[^/]+))?/?$")
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<revision>[^/]+)(?:/(?P<path>.*))?$")
CHUNK = 1 << 20


def _etag(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class HubStandIn:
    def __init__(self, repositories, cut_first_download_after=None):
        """`repositories`: {"org/name": folder}; every file under a folder is part of the repository."""
        self.repositories = {repo: Path(folder) for repo, folder in repositories.items()}
        self.cut_first_download_after = cut_first_download_after
        self.requests = []  # (method, path, Range header or None)
        self._etags = {}
        self._cut = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def files(self, repo):
        folder = self.repositories[repo]
        return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())

    def etag(self, path):
        if path not in self._etags:
            self._etags[path] = _etag(path)
        return self._etags[path]

    def ranges_asked(self, suffix):
        """Range headers of the GETs for files whose path ends with `suffix`."""
        return [
            range_header
            for method, path, range_header in self.requests
            if method == "GET" and path.endswith(suffix) and range_header
        ]

    def _handler_class(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _json(self, status, document):
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Repo-Commit", COMMIT)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _not_found(self, what):
                body = json.dumps({"error": f"{what} not found"}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Error-Code", "RepoNotFound" if "repository" in what else "EntryNotFound")
                self.send_header("X-Error-Message", f"{what} not found")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                path = self.path.split("?")[0]
                hub.requests.append((self.command, path, self.headers.get("Range")))
                for pattern, handler in ((_INFO, self._info), (_TREE, self._tree), (_RESOLVE, self._file)):
                    match = pattern.match(path)
                    if match:
                        return handler(**match.groupdict())
                return self._not_found(f"route {path}")

            def _info(self, repo, revision=None):
                if repo not in hub.repositories:
                    return self._not_found(f"repository {repo}")
                siblings = [{"rfilename": name} for name in hub.files(repo)]
                return self._json(
                    200,
                    {
                        "_id": repo,
                        "id": repo,
                        "modelId": repo,
                        "sha": COMMIT,
                        "private": False,
                        "gated": False,
                        "disabled": False,
                        "downloads": 0,
                        "likes": 0,
                        "tags": [],
                        "siblings": siblings,
                        "lastModified": "2026-11-01T00:00:00.000Z",
                        "createdAt": "2026-11-01T00:00:00.000Z",
                    },
                )

            def _tree(self, repo, revision, path=None):
                if repo not in hub.repositories:
                    return self._not_found(f"repository {repo}")
                folder = hub.repositories[repo]
                entries = [
                    {
                        "type": "file",
                        "path": name,
                        "size": (folder / name).stat().st_size,
                        "oid": hub.etag(folder / name)[:40],
                    }
                    for name in hub.files(repo)
                    if not path or name.startswith(path.rstrip("/") + "/")
                ]
                return self._json(200, entries)

            def _file(self, repo, revision, path):
                folder = hub.repositories.get(repo)
                file = folder / path if folder else None
                if file is None or not file.is_file():
                    return self._not_found(f"file {path} of repository {repo}")
                size = file.stat().st_size
                start, end = 0, size - 1
                range_header = self.headers.get("Range")
                if range_header:
                    match = re.match(r"bytes=(\d+)-(\d*)", range_header)
                    start = int(match.group(1))
                    end = int(match.group(2)) if match.group(2) else size - 1
                status = 206 if range_header else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(end - start + 1))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", f'"{hub.etag(file)}"')
                self.send_header("X-Repo-Commit", COMMIT)
                if range_header:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                if self.command == "HEAD":
                    return
                limit = end - start + 1
                cut = hub.cut_first_download_after
                cutting = bool(cut) and size > cut and not range_header and file not in hub._cut
                if cutting:
                    hub._cut.add(file)
                    limit = cut
                with open(file, "rb") as handle:
                    handle.seek(start)
                    while limit > 0:
                        block = handle.read(min(CHUNK, limit))
                        if not block:
                            break
                        self.wfile.write(block)
                        limit -= len(block)
                if cutting:
                    self.close_connection = True  # the client got fewer bytes than announced, as on a dropped link

        return Handler
