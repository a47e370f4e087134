"""A static file server for the benchmarks, run in its own process so its work is not measured.

``python _http_server.py DIR`` serves the files of DIR on 127.0.0.1 (a free port, printed on
the first line of stdout) over HTTP/1.1 with keep-alive, an ``ETag`` and ``Last-Modified`` on
every answer and ``304 Not Modified`` to a matching ``If-None-Match``. It exits when its
stdin closes (the parent died or is done), or after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import email.utils
import http.server
import os
import sys
import threading
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args()
    root: Path = args.directory.resolve()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = (root / self.path.lstrip("/").split("?")[0]).resolve()
            if root not in path.parents or not path.is_file():
                self.send_error(404)
                return
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                etag = f'"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Stop when the parent closes our stdin, or at the deadline, whichever comes first.
    waiter = threading.Thread(target=sys.stdin.read, daemon=True)
    waiter.start()
    waiter.join(args.max_seconds)
    server.shutdown()


if __name__ == "__main__":
    main()
