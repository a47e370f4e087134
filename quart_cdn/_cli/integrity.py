"""Subresource Integrity hashes for manifests whose bundler writes none.

Two shapes are written, both of which bundlers' own SRI plugins write, so the manifest
parser reads them as it reads theirs:

* a JSON mapping whose values are objects, as webpack-assets-manifest writes them with
  ``integrity: true``: ``{"css/app.css": {"src": "css/app.1a2b3c4d.css", "integrity":
  "sha384-..."}}`` (``quart-cdn digest --integrity``, or ``quart-cdn integrity`` on a
  webpack-manifest-plugin mapping);
* a Vite manifest with an ``integrity`` field on every entry, as vite-plugin-manifest-sri
  writes it (``quart-cdn integrity .vite/manifest.json --root dist``). A CSS file that the
  manifest lists only in a chunk's ``css`` gets an entry of its own
  (``"_main-x.css": {"file": "assets/main-x.css", "src": "_main-x.css", "integrity": ...}``),
  the shape Vite itself writes for shared CSS, so that an entry's own CSS has a hash too.
"""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from .digest import read_digest

__all__ = ["SRI_ALGORITHMS", "add_integrity", "integrity_mapping", "sri"]

#: The hash functions SRI allows; sha384 is what bundlers and browsers' docs use.
SRI_ALGORITHMS: Final = ("sha256", "sha384", "sha512")


def sri(path: Path, algorithm: str = "sha384") -> str:
    """``<algorithm>-<base64 digest>`` of the file at ``path``.

    Raises:
        FileAccessError: the file cannot be read.
    """
    return f"{algorithm}-{base64.b64encode(read_digest(path, algorithm)).decode('ascii')}"


def integrity_mapping(
    mapping: Mapping[str, str], root: Path, algorithm: str = "sha384"
) -> dict[str, dict[str, str]]:
    """``{name: {"src": hashed, "integrity": ...}}`` for a name -> hashed name mapping whose
    hashed files are in ``root``."""
    return {
        name: {"src": hashed, "integrity": sri(root / hashed, algorithm)}
        for name, hashed in mapping.items()
    }


class IntegrityError(ValueError):
    """A manifest that ``quart-cdn integrity`` cannot add hashes to; the message says why."""


def _file_of(value: str, public_path: str, entry: str) -> str:
    """The file a manifest value names, relative to the build's root."""
    if public_path and value.startswith(public_path):
        value = value[len(public_path) :]
    name = value.lstrip("/")
    if not name or "://" in value or value.startswith("//"):
        raise IntegrityError(
            f"entry {entry!r} names {value!r}, which is not a file below the build directory; "
            "give the bundler's public path with --public-path"
        )
    return name


def add_integrity(
    manifest: Any, root: Path, *, algorithm: str = "sha384", public_path: str = ""
) -> dict[str, Any]:
    """The manifest with an SRI hash for every file it lists (see the module docstring).

    Args:
        manifest: the parsed JSON: a Vite manifest (objects with ``file``) or a mapping of
            names to hashed names (strings, or ``{"src": ...}`` objects).
        root: the directory the files are in (Vite's ``build.outDir``, webpack's
            ``output.path``).
        algorithm: ``sha256``, ``sha384`` or ``sha512``.
        public_path: a prefix the values carry that is not part of the file's path
            (webpack's ``output.publicPath`` such as ``/static/``).

    Raises:
        IntegrityError: the JSON is not such a manifest, or a value is not a file below
            ``root``.
        FileAccessError: a listed file cannot be read.
    """
    if not isinstance(manifest, dict) or not manifest:
        raise IntegrityError(
            "expected a JSON object (a Vite manifest, or a mapping of names to hashed names), "
            f"got {type(manifest).__name__}"
        )
    cache: dict[str, str] = {}

    def hash_of(name: str) -> str:
        if name not in cache:
            cache[name] = sri(root / name, algorithm)
        return cache[name]

    if all(isinstance(v, dict) and "file" in v for v in manifest.values()):
        return _vite(manifest, hash_of, public_path)
    out: dict[str, Any] = {}
    for key, value in manifest.items():
        if key == "entrypoints" and isinstance(value, dict):
            out[key] = value  # webpack-assets-manifest's, kept as it is
            continue
        src = value.get("src") if isinstance(value, dict) else value
        if not isinstance(src, str):
            raise IntegrityError(
                f"entry {key!r} is {json.dumps(value)[:80]}; expected a hashed file name or "
                '{"src": ...}: a Vite manifest needs every entry to have a "file"'
            )
        extra = value if isinstance(value, dict) else {}
        out[key] = {**extra, "src": src, "integrity": hash_of(_file_of(src, public_path, key))}
    return out


def _vite(
    manifest: dict[str, Any], hash_of: Callable[[str], str], public_path: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    listed: set[str] = set()
    for key, chunk in manifest.items():
        file = _file_of(chunk["file"], public_path, key)
        listed.add(file)
        out[key] = {**chunk, "integrity": hash_of(file)}
    for key, chunk in manifest.items():
        for css in chunk.get("css", ()):
            file = _file_of(css, public_path, key)
            if file in listed:
                continue
            listed.add(file)
            own = "_" + posixpath.basename(file)
            while own in out:
                own = "_" + own
            out[own] = {"file": css, "src": own, "integrity": hash_of(file)}
    return out
