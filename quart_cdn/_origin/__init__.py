"""The app as the CDN's origin: what a static file's response says, framework-free.

With origin pull the CDN fetches ``/static/...`` from the app and keeps what it gets, so the
app decides what millions of browsers see. Both adapters ask :class:`Origin` three things
for a request of a CDN endpoint's static route, and only apply the answers:

* **Caching** (``CDN_ORIGIN_CACHE``). The version a request carries is checked against the
  one ``url_for`` gives now, through the same :class:`~quart_cdn._versioning.Versioner`:
  the current ``c=``/``t=`` (or a hashed name the manifest lists) is the right bytes
  forever, ``public, max-age=31536000, immutable``. Any other version (a rolling deploy: a
  new page's URL reaching an instance that still has the old build, or an old page's URL
  reaching a new one) gets the bytes this instance has, with ``no-store``: the visitor gets
  the nearest thing to what it asked for (a 404 would break the page for sure, and SRI
  still refuses wrong bytes), and the CDN keeps nothing, so its next request for that URL
  goes to an instance again, and finds the right bytes once the deploy is over. The bytes
  are checked too, as one manifest may be shared by instances mid-deploy: a ``c=`` must
  start the file's own digest (md5, sha1 or sha256, read once per version of the file in a
  worker thread: :meth:`Origin.needs_digest`), a ``t=`` must be its mtime. A 404 under
  a versioned URL (or under any name, with a hashed-name manifest, where the name is the
  version) is ``no-store`` too: the file may exist on the next instance. A hashed file still
  on disk that the manifest no longer lists is served with the framework's own caching:
  this instance cannot tell a retired hashed copy from an unlisted file that may change
  (``robots.txt``), so it does not promise either for a year.
* **CORS** (``CDN_CORS``): ``Access-Control-Allow-Origin`` on every response, and the
  answer to a preflight.
* **Precompressed files** (``CDN_PRECOMPRESSED``): the ``.br`` or ``.gz`` sibling that the
  request accepts (``quart-cdn digest --brotli --gzip`` writes them), with
  ``Content-Encoding`` and ``Vary: Accept-Encoding``. Siblings are looked up once per
  version of the plain file (its inode, size and mtime), and used only when they are at
  least as new as it, so a plain file edited after the build is never shadowed.
"""

from __future__ import annotations

from .files import ENCODINGS, Files, Variant, accepted_encodings
from .rules import (
    IMMUTABLE,
    NO_STORE,
    Answer,
    Origin,
    apply_answer,
    asked_versions,
    merge_vary,
)

__all__ = [
    "ENCODINGS",
    "IMMUTABLE",
    "NO_STORE",
    "Answer",
    "Files",
    "Origin",
    "Variant",
    "accepted_encodings",
    "apply_answer",
    "asked_versions",
    "merge_vary",
]
