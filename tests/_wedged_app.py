"""A Quart app for the shutdown tests, run by uvicorn or hypercorn in a subprocess.

Its manifest is the file ``QUART_CDN_TEST_MANIFEST`` names, not strict, reloaded every
second. While the file ``QUART_CDN_TEST_HANG`` names exists, every read of the manifest
blocks forever, as a read on a hung network mount does (no real mount can be hung on
demand here). ``READY`` is printed to stderr once startup is done.
"""

from __future__ import annotations

import os
import sys
import threading

from quart import Quart

from quart_cdn import CDN
from quart_cdn._sources.file import FileManifestSource

_read = FileManifestSource._read


def _read_or_hang(self: FileManifestSource, known: object) -> object:
    if os.path.exists(os.environ.get("QUART_CDN_TEST_HANG", "")):
        threading.Event().wait()
    return _read(self, known)  # type: ignore[arg-type]


FileManifestSource._read = _read_or_hang  # type: ignore[assignment,method-assign]

app = Quart(__name__)
app.config.update(
    CDN_DOMAIN="cdn.example.com",
    CDN_MANIFEST=True,
    CDN_MANIFEST_URL=os.environ["QUART_CDN_TEST_MANIFEST"],
    CDN_MANIFEST_STRICT=False,
    CDN_MANIFEST_REFRESH=1,
    CDN_MANIFEST_TIMEOUT=0.5,
)
CDN(app)


@app.before_serving
async def ready() -> None:
    print("READY", file=sys.stderr, flush=True)
