"""Front-end entries: what a bundler's manifest says an entry needs, as data and as tags.

The model (:mod:`.graph`) is filled by the manifest parser and read by the tag makers; it
holds file names relative to the static folder, never URLs, so one manifest serves every
scheme, host and root path.
"""

from __future__ import annotations

from .graph import Chunk, EntryGraph, Entrypoint

__all__ = ["Chunk", "EntryGraph", "Entrypoint"]
