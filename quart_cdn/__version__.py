"""The package's version, in a module of its own so that nothing imports the package from
inside itself to read it."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.2.0.dev0"
