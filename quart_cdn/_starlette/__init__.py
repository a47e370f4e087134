"""The Starlette adapter's parts beside :mod:`quart_cdn.starlette`: entry tags and the origin
rules for ``StaticFiles`` mounts. Imported only by that module (they import Starlette)."""

from __future__ import annotations
