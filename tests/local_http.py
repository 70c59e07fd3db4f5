"""A small HTTP server on 127.0.0.1 for download tests (no test reaches the internet).

Serves bytes or files under URL paths, honours ``Range: bytes=N-`` (unless told not to), can cut a
response after some bytes to simulate a dropped connection, and records every request.
"""
import contextlib
import io
import os
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TYPES = {".mp4": "video/mp4", ".mkv": "video/x-matroska", ".zip": "application/zip",
         ".gz": "application/gzip", ".json": "application/json"}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass   # clients that hang up early (cut downloads, yt-dlp probes) are expected


class LocalServer:
    def __init__(self):
        self.files = {}          # url path -> bytes or local file path
        self.cut = {}            # url path -> [bytes to send before dropping, times left]
        self.no_range = set()    # url paths served without Range support
        self.requests = []       # (method, path, Range header or None)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _serve(self, head):
                path = self.path.split("?", 1)[0]
                rng = self.headers.get("Range")
                with server._lock:
                    server.requests.append((self.command, path, rng))
                    source = server.files.get(path)
                    cut = server.cut.get(path)
                    if cut and not head and cut[1] > 0:
                        cut[1] -= 1
                        limit = cut[0]
                    else:
                        limit = None
                if source is None:
                    body = b"not found"
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not head:
                        self.wfile.write(body)
                    return
                data = source if isinstance(source, bytes) else open(source, "rb").read()
                start = 0
                match = re.match(r"bytes=(\d+)-$", rng or "")
                if match and path not in server.no_range:
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
                ext = os.path.splitext(path)[1].lower()
                self.send_header("Content-Type", TYPES.get(ext, "application/octet-stream"))
                self.send_header("Content-Length", str(len(data) - start))
                if limit is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if head:
                    return
                payload = data[start:] if limit is None else data[start:start + limit]
                try:
                    self.wfile.write(payload)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                if limit is not None:
                    self.close_connection = True

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)

    def url(self, path):
        return self.base + path

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def running_server():
    server = LocalServer().start()
    try:
        yield server
    finally:
        server.stop()


def closed_port_url(path="/"):
    """A 127.0.0.1 URL where nothing listens (to simulate being offline)."""
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}{path}"


def clear_proxies(monkeypatch):
    """No proxy and no TECOGAN_MIRROR from the machine may send a test's request elsewhere."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "TECOGAN_MIRROR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def make_zip(entries):
    """entries: {name: bytes}; stored (no compression) so that building it is instant."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()
