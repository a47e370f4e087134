"""The version of quart-cdn, its one home (read by hatchling for the package metadata)."""

from __future__ import annotations

__version__ = "0.2.0.dev0"
