"""Run the command line: ``python -m quart_cdn manifest|digest STATIC_DIR``."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    main(prog_name="python -m quart_cdn")
