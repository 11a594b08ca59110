"""What every API emulator shares: a real HTTP server on 127.0.0.1:0, a record of every request, and faults.

An emulator subclass declares its routes (werkzeug rules whose endpoints name its methods) and
answers in its API's own shapes. Faults are queued per endpoint and consumed one per request:

    emulator.inject("create_status", Fault.server_error(), Fault.commit_then_timeout())

Each subclass decides what a 5xx, a 429 and an expired token look like on its API by overriding
`server_error`, `rate_limited` and `expire_tokens`; the transport faults (reset, slow reply,
commit-then-timeout) are the same everywhere.
"""

from __future__ import annotations

import email.utils
import io
import json
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 503
    seconds: float = 0.0
    retry_after: str | None = None

    @classmethod
    def server_error(cls, status: int = 503) -> Fault:
        return cls("server_error", status=status)

    @classmethod
    def rate_limited(cls, seconds: int = 2, *, as_date: bool = False) -> Fault:
        """A 429 (or the API's quota error) asking to wait `seconds`, as a number or an HTTP-date."""
        value = email.utils.formatdate(time.time() + seconds, usegmt=True) if as_date else str(seconds)
        return cls("rate_limited", seconds=seconds, retry_after=value)

    @classmethod
    def reset(cls) -> Fault:
        """The connection is reset before the request is carried out."""
        return cls("reset")

    @classmethod
    def slow(cls, seconds: float = 1.0) -> Fault:
        """The request is carried out at once but the reply comes `seconds` later, after the client gave up.

        (Carried out first, so that what a client finds when it reads back is certain, not a race.)
        """
        return cls("slow", seconds=seconds)

    @classmethod
    def commit_then_timeout(cls, seconds: float = 1.0) -> Fault:
        """The request is carried out, then the reply never arrives (the connection drops after `seconds`)."""
        return cls("commit_then_timeout", seconds=seconds)

    @classmethod
    def token_expired(cls) -> Fault:
        """Every token issued so far expires just before this request is handled."""
        return cls("token_expired")


@dataclass
class Recorded:
    method: str
    path: str
    endpoint: str
    headers: dict[str, str]
    args: dict[str, str]
    body: bytes = b""
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # name → (filename, type, size)
    client: str = ""  # the client's address and port: one per TCP connection

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as real APIs offer, so that clients can show connection reuse.

    (werkzeug's development server closes every connection, so it serves only the WSGI side here:
    routing, Request and Response.)
    """

    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle kept-alive connection is closed after this many seconds
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the client went away, or a fault reset the connection
            self.close_connection = True

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply: list[Any] = []
        chunks = b"".join(
            self.server.app(self._environ(body), lambda status, headers, *_: reply.extend([status, headers]))
        )
        if not reply:  # the application dropped the connection (a fault): nothing may be written
            self.close_connection = True
            return
        code, _, reason = reply[0].partition(" ")
        self.send_response(int(code), reason)
        for name, value in reply[1]:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(chunks)))
        self.end_headers()
        self.wfile.write(chunks)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "QUERY_STRING": query,
            "REQUEST_URI": self.path, "RAW_URI": self.path,
            "PATH_INFO": urllib.parse.unquote(path, encoding="latin-1"),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0], "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False, "werkzeug.socket": self.connection,
        }  # fmt: skip
        for name in set(self.headers.keys()) - {"Content-Type", "Content-Length"}:
            environ["HTTP_" + name.upper().replace("-", "_")] = ",".join(self.headers.get_all(name) or [])
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator records requests itself."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: Callable[..., Iterable[bytes]]


class Emulator:
    routes: ClassVar[Iterable[Rule]] = ()

    def __init__(self) -> None:
        self.url_map = Map([rule.empty() for rule in self.routes])
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._server: _Server | None = None
        self.latency = 0.0  # seconds added before every answer, as a distant API would

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.app = self
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the emulator first"
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- faults and records ------------------------------------------------------------------

    def inject(self, endpoint: str, *faults: Fault) -> None:
        with self.lock:
            self._faults[endpoint].extend(faults)

    def connections(self) -> int:
        """How many TCP connections the requests came over (fewer than requests: connections reused)."""
        with self.lock:
            return len({r.client for r in self.requests})

    def calls(self, endpoint: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    # -- what each API says differently --------------------------------------------------------

    def server_error(self, status: int) -> Response:
        return json_response({"error": "Internal Server Error"}, status)

    def rate_limited(self, fault: Fault) -> Response:
        return json_response({"error": "Too many requests"}, 429, {"Retry-After": fault.retry_after or "1"})

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid (APIs whose tokens never expire keep this no-op)."""

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except Exception as exc:  # werkzeug's NotFound / MethodNotAllowed are responses themselves
            return exc(environ, start_response)  # type: ignore[operator,no-any-return]
        self._record(request, str(endpoint))
        time.sleep(self.latency)
        response = self._answer(request, str(endpoint), args, environ["werkzeug.socket"])
        return response(environ, start_response) if response is not None else []

    def _answer(self, request: Request, endpoint: str, args: dict[str, Any], sock: socket.socket) -> Response | None:
        fault = self._next_fault(endpoint)
        handle: Callable[[], Response] = lambda: getattr(self, endpoint)(request, **args)  # noqa: E731
        if fault is None:
            return handle()
        return self._apply(fault, handle, sock)

    def _apply(self, fault: Fault, handle: Callable[[], Response], sock: socket.socket) -> Response | None:
        if fault.kind == "server_error":
            return self.server_error(fault.status)
        if fault.kind == "rate_limited":
            return self.rate_limited(fault)
        if fault.kind == "reset":
            return _reset(sock)
        if fault.kind == "token_expired":
            self.expire_tokens()
            return handle()
        response = handle()
        time.sleep(fault.seconds)  # slow or commit_then_timeout: the work is done, the answer late or never
        return _reset(sock) if fault.kind == "commit_then_timeout" else response

    def _next_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            queue = self._faults.get(endpoint)
            return queue.popleft() if queue else None

    def _record(self, request: Request, endpoint: str) -> None:
        is_form = request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded")
        body = b"" if is_form else request.get_data(cache=True)
        files = {name: (f.filename or "", f.mimetype, len(f.read())) for name, f in request.files.items()}
        for f in request.files.values():
            f.stream.seek(0)
        record = Recorded(
            request.method, request.path, endpoint, dict(request.headers), dict(request.args), body,
            dict(request.form), files, f"{request.remote_addr}:{request.environ.get('REMOTE_PORT')}",
        )  # fmt: skip
        with self.lock:
            self.requests.append(record)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, ensure_ascii=False).encode()
    return Response(data, status, headers, content_type="application/json; charset=utf-8")


def _reset(sock: socket.socket) -> None:
    """Drop the connection with a TCP RST: the client sees "connection reset", not a reply."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
