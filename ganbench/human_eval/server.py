"""The local HTTP server of the rating page (standard library ``http.server``).

It listens on 127.0.0.1 only, answers only requests addressed to that host (so a web page
elsewhere cannot reach it through DNS rebinding) and takes votes only as JSON (so a foreign page
cannot post a form to it). Routes: ``GET /``, ``/app.css``, ``/app.js`` (the page), ``GET
/api/state`` (progress and the current image) and ``POST /api/vote`` (``{"id": ..., "label":
"real"|"fake"}``, answered with the next state). The protocol is the blind two-choice trial of
HYPE (Zhou et al., "HYPE: A Benchmark for Human eYe Perceptual Evaluation of Generative Models",
NeurIPS 2019).
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ganbench.errors import UserError
from ganbench.human_eval import page
from ganbench.human_eval.session import RatingSession, VoteRejected

HOST = "127.0.0.1"
MAX_BODY = 4096
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                    "Content-Security-Policy": page.CONTENT_SECURITY_POLICY}


class RatingHandler(BaseHTTPRequestHandler):
    """Routes the page's requests to the server's :class:`RatingSession`."""

    server: RatingServer
    server_version = "ganbench-human-eval"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the terminal belongs to the command's own messages."""

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def _host_ok(self) -> bool:
        if self.headers.get("Host") in self.server.hosts:
            return True
        self._json(HTTPStatus.FORBIDDEN, {"error": "this server answers only to " + self.server.url})
        return False

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        if path == "/api/state":
            self._json(HTTPStatus.OK, self.server.session.state())
        elif path in self.server.files:
            self._send(HTTPStatus.OK, *self.server.files[path])
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        if urlsplit(self.path).path != "/api/vote":
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        if self.headers.get_content_type() != "application/json":
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "votes are sent as application/json"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"a vote is at most {MAX_BODY} bytes"})
            return
        try:
            body = json.loads(self.rfile.read(length))
            token, label = body["id"], body["label"]
            if not isinstance(token, str) or not isinstance(label, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self._json(HTTPStatus.BAD_REQUEST, {"error": 'a vote is {"id": "...", "label": "real" or "fake"}'})
            return
        session = self.server.session
        try:
            state = session.vote(token, label)
        except VoteRejected as rejected:
            self._json(rejected.status, {"error": str(rejected), "state": session.state()})
            return
        self._json(HTTPStatus.OK, state)
        if state["done"]:
            self.server.finished.set()


def check_port(port: int) -> None:
    """A :class:`UserError` unless ``port`` is a TCP port number (0 picks a free one)."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, got {port}")


class RatingServer(ThreadingHTTPServer):
    """Serves one :class:`RatingSession` on 127.0.0.1 (``port`` 0 picks a free port)."""

    daemon_threads = True

    def __init__(self, session: RatingSession, rater: str, port: int = 0) -> None:
        check_port(port)
        try:
            super().__init__((HOST, port), RatingHandler)
        except OSError as exc:
            raise UserError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc} (choose another --port)") from exc
        self.session = session
        self.files = page.render(rater, session.item_set.resolution)
        self.finished = threading.Event()
        self.port = int(self.server_address[1])
        self.url = f"http://{HOST}:{self.port}/"
        self.hosts = {f"{HOST}:{self.port}", f"localhost:{self.port}"}
        self._thread: threading.Thread | None = None

    def start(self) -> RatingServer:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.1,), name="human-eval-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """In the main thread, SIGINT and SIGTERM stop serving (even where SIGINT was inherited as ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def serve(session: RatingSession, rater: str, port: int, on_ready: Callable[[str], None] | None = None) -> bool:
    """Serve until every image is rated (True) or Ctrl-C / SIGTERM (False)."""
    server = RatingServer(session, rater, port).start()
    try:
        with _stop_on_signals():
            if on_ready is not None:
                on_ready(server.url)
            while not server.finished.wait(0.25):
                pass
        return True
    except KeyboardInterrupt:
        return False
    finally:
        server.stop()
