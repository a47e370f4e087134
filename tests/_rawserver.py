"""A raw-socket HTTP server on 127.0.0.1 that answers each request with exact bytes.

For what a well-behaved server never sends: a 304 with a body, a body cut short, a bomb,
a redirect to port 99999. Each request (read up to its blank line) gets the next
:class:`Answer`, whichever connection it came on; the connection is then kept open (so a
client that reuses it reads whatever was sent, smuggled bytes included) unless the
answer says ``close``. Handler threads are daemons; :meth:`RawServer.stop` (also on
``with`` exit, and by itself after ``lifetime`` seconds) closes every socket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterable
from types import TracebackType

__all__ = ["Answer", "RawServer", "response"]


@dataclasses.dataclass(frozen=True)
class Answer:
    """Bytes sent verbatim for one request; ``close``: close the connection after them."""

    data: bytes
    close: bool = False


def response(
    status: str = "200 OK",
    body: bytes = b"",
    *,
    headers: Iterable[tuple[str, str]] = (),
    length: int | None = -1,
) -> bytes:
    """An HTTP/1.1 answer; ``length=-1``: a right Content-Length, ``None``: none at all."""
    lines = [f"HTTP/1.1 {status}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length is not None:
        lines.append(f"Content-Length: {len(body) if length == -1 else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class RawServer:
    """Answers requests on 127.0.0.1 from a list of :class:`Answer` (the last one repeats).

    Attributes:
        requests: the raw head of each request received, in order.
        connections: how many connections were accepted.
    """

    def __init__(self, answers: Iterable[Answer | bytes], *, lifetime: float = 30.0) -> None:
        self.answers = [a if isinstance(a, Answer) else Answer(a) for a in answers]
        self.requests: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._accept, name="raw-server", daemon=True)
        self._thread.start()

    def url(self, path: str = "/m", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> RawServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    def headers(self, index: int) -> dict[str, str]:
        """The headers of request ``index``, names lower-cased."""
        lines = self.requests[index].decode("latin-1").split("\r\n")[1:]
        return {
            k.strip().lower(): v.strip() for k, _, v in (li.partition(":") for li in lines if li)
        }

    def _accept(self) -> None:
        try:
            while not self._stopped.is_set() and time.monotonic() < self._deadline:
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                with self._lock:
                    self._sockets.append(conn)
                    self.connections += 1
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        finally:
            self._listener.close()
            self._stopped.set()
            with self._lock:
                sockets, self._sockets = self._sockets, []
            for sock in sockets:
                sock.close()

    def _serve(self, conn: socket.socket) -> None:
        # stop() may close the socket under this thread at any point: that ends it quietly.
        with contextlib.suppress(OSError):
            self._answer_requests(conn)

    def _answer_requests(self, conn: socket.socket) -> None:
        buffer = b""
        conn.settimeout(0.05)
        while not self._stopped.is_set():
            while b"\r\n\r\n" not in buffer:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    if self._stopped.is_set():
                        return
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            with self._lock:
                self.requests.append(head)
                answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
            try:
                conn.settimeout(10)
                conn.sendall(answer.data)
                conn.settimeout(0.05)
            except OSError:
                return
            if answer.close:
                with contextlib.suppress(OSError):  # the client may have gone already
                    conn.shutdown(socket.SHUT_WR)
                return
