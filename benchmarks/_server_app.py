"""The app that section 5 runs under uvicorn: ``uvicorn --app-dir benchmarks _server_app:app``.

Configured by environment variables: ``BENCH_SITE`` (a site made by ``_fixtures.make_site``),
``BENCH_MODE`` (``off``: the extension without a domain; ``timestamp``; or a manifest format)
and ``BENCH_REFRESH`` (seconds between manifest reloads, ``0`` for none).
"""

from __future__ import annotations

import os
from pathlib import Path

from _fixtures import Site, make_app

_root = Path(os.environ["BENCH_SITE"])
_refresh = float(os.environ.get("BENCH_REFRESH", "0")) or None
_mode = os.environ.get("BENCH_MODE", "off")
_extra = {"CDN_MANIFEST_REFRESH": _refresh} if _refresh else {}
app = make_app(Site(_root, _root / "static", _root / "templates"), _mode, **_extra)
