"""Where manifests come from: one module per kind of source, chosen by a URL scheme.

:data:`SCHEMES` maps each scheme to the module and class that read it; a module is imported
only when its scheme is used, so the ``s3`` extra is needed only for ``s3://`` URLs. A new
source is one module here (a :class:`ManifestSource` subclass with ``from_location``) and
one line in the table; a source that no URL names is passed to the adapter directly
(``CDN(app, source=...)``).
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from .._config import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT
from .base import ManifestSource, cut
from .file import FileManifestSource
from .http import UrlManifestSource

__all__ = [
    "SCHEMES",
    "FileManifestSource",
    "ManifestSource",
    "UrlManifestSource",
    "source_for",
]

#: URL scheme -> ``"module:Class"``; a module name starting with ``.`` is relative to this
#: package. ``""`` is a plain path. A package of one's own may add a line (``"gs":
#: "mypackage.gcs:GCSManifestSource"``) before the app is set up.
SCHEMES: dict[str, str] = {
    "": ".file:FileManifestSource",
    "file": ".file:FileManifestSource",
    "http": ".http:UrlManifestSource",
    "https": ".http:UrlManifestSource",
    "s3": ".s3:S3ManifestSource",
}


def _scheme_hint() -> str:
    """``an http(s)://, file:// or s3:// URL, or a filesystem path``, from the table."""
    schemes = [s for s in SCHEMES if s and s != "https"]
    shown = [f"{s}(s)://" if s + "s" in SCHEMES else f"{s}://" for s in schemes]
    shown.sort(key=lambda s: not s.startswith("http"))
    listed = ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]
    return f"an {listed} URL, or a filesystem path"


def source_class(scheme: str) -> type[ManifestSource]:
    """The class that reads URLs of ``scheme`` (importing its module on first use).

    Raises:
        KeyError: no source reads ``scheme``.
        ImportError: its module needs an extra that is not installed (the message says which).
    """
    module_name, _, class_name = SCHEMES[scheme].partition(":")
    module = importlib.import_module(module_name, __name__)
    cls: type[ManifestSource] = getattr(module, class_name)
    return cls


def source_for(
    location: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    setting: str = "CDN_MANIFEST_URL",
    max_bytes_setting: str = "CDN_MANIFEST_MAX_BYTES",
) -> ManifestSource:
    """The source for ``location``: a URL of a scheme in :data:`SCHEMES`, or a path.

    ``setting`` and ``max_bytes_setting`` name the settings that gave ``location`` and
    ``max_bytes``, for messages.

    Raises:
        ValueError: an unsupported scheme, or a URL its source refuses; the message names
            ``setting``.
    """
    scheme = urlsplit(location).scheme.lower() if "://" in location else ""
    if scheme not in SCHEMES:
        raise ValueError(
            f"{setting} {cut(location, 200)} has an unsupported scheme {cut(scheme, 40)}; "
            f"use {_scheme_hint()}"
        )
    source = source_class(scheme).from_location(
        location, timeout=timeout, max_bytes=max_bytes, setting=setting
    )
    source.setting, source.max_bytes_setting = setting, max_bytes_setting
    return source
