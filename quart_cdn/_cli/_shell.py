"""What the commands of :mod:`quart_cdn._cli` share: their options, the listing of a static
directory for a manifest, progress on stderr, output, and errors as messages."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import click

from .._manifest import parse_manifest
from .._sources.truncation import TruncationError, verify_seal
from ..exceptions import ManifestError
from .digest import ALGORITHMS, FileAccessError, list_files, name_problem
from .files import write_atomic

__all__ = [
    "ALGORITHM",
    "DEFAULT_NAMES",
    "PROGRESS_MIN_FILES",
    "SEAL",
    "STATIC_DIR",
    "brotli_compressor",
    "emit",
    "errors",
    "is_integrity_mapping",
    "is_manifest",
    "list_for_manifest",
    "output_option",
    "progress",
    "resolve_output",
    "show_progress",
    "warn",
]

#: Below this many files no progress bar is shown.
PROGRESS_MIN_FILES: Final = 200
#: Where each kind of manifest goes without -o, inside STATIC_DIR.
DEFAULT_NAMES: Final = {"checksum": "manifest.txt", "mapping": "manifest.json"}

STATIC_DIR = click.argument(
    "static_dir",
    type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
)
SEAL = click.option(
    "--seal/--no-seal",
    default=True,
    show_default=True,
    help="Put a seal first in the manifest (entry count and SHA-256 of the rest), so that "
    "the app refuses a copy cut short in transit or read while half written.",
)
ALGORITHM = click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS, case_sensitive=False),
    default="md5",
    show_default=True,
    help="Hash function for the checksums (and the hashed names).",
)


def output_option(default: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, allow_dash=True),
        help=f"Where to write the manifest ('-' for stdout). [default: STATIC_DIR/{default}]",
    )


def show_progress(count: int) -> bool:
    return count >= PROGRESS_MIN_FILES and sys.stderr.isatty()


@contextlib.contextmanager
def progress(count: int, label: str) -> Iterator[Callable[[], None]]:
    """Yield a tick function that advances a progress bar on stderr (when it is shown)."""
    if not show_progress(count):
        yield lambda: None
        return
    # On stderr, never stdout: '-o -' sends the manifest itself there.
    with click.progressbar(length=count, label=label, file=sys.stderr) as bar:
        yield lambda: bar.update(1)


def warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def is_manifest(path: Path, kind: str) -> bool:
    try:
        data = verify_seal(path.read_bytes())
        return parse_manifest(data, source=str(path)).kind == kind
    except (OSError, TruncationError):
        return False
    except ManifestError:
        return kind == "mapping" and is_integrity_mapping(data)


def is_integrity_mapping(data: bytes) -> bool:
    """What ``digest --integrity`` writes: ``{name: {"src": ..., "integrity": ...}}``."""
    try:
        found = json.loads(data)
    except ValueError:
        return False
    return (
        isinstance(found, dict)
        and bool(found)
        and all(isinstance(v, dict) and isinstance(v.get("src"), str) for v in found.values())
    )


def list_for_manifest(
    static_dir: Path, output: Path | None, kind: str, *, explicit: bool
) -> list[str]:
    """The files to put in a manifest of ``kind``, with a warning for each one left out.

    Left out as well: the output, and the manifests of both kinds at their default places
    (manifest.txt, manifest.json). A file
    there that is something else (a web app's manifest.json) is refused as the output, not
    overwritten, unless -o named it (``explicit``).
    """
    exclude = [output] if output is not None else []
    # The manifests either command writes at its default place are never listed: digest
    # must not hash the manifest.txt that `manifest` wrote, nor `manifest` the manifest.json.
    for other_kind, name in DEFAULT_NAMES.items():
        other = static_dir / name
        if other_kind != kind and other.is_file() and is_manifest(other, other_kind):
            exclude.append(other)
    default = static_dir / DEFAULT_NAMES[kind]
    if default.is_file():
        if is_manifest(default, kind):
            exclude.append(default)
        elif output == default and not explicit:
            raise click.ClickException(
                f"{str(output)!r} exists and is not a {kind} manifest; "
                "to replace it anyway, name it with -o"
            )
    files = []
    for rel in list_files(static_dir, exclude=exclude, warn=warn):
        problem = name_problem(rel, kind=kind)
        if problem is None:
            files.append(rel)
        else:
            warn(f"skipped {rel!r}: {problem}")
    if not files:
        raise click.ClickException(f"no files in {str(static_dir)!r}; a manifest needs one")
    return files


def emit(data: bytes, output: Path | None) -> None:
    if output is None:
        click.echo(data, nl=False)  # bytes go to stdout's binary buffer, untranslated
    else:
        write_atomic(output, data, sync=True)


def resolve_output(static_dir: Path, output: str | None, kind: str) -> Path | None:
    if output == "-":
        return None
    return Path(output) if output else static_dir / DEFAULT_NAMES[kind]


@contextlib.contextmanager
def errors() -> Iterator[None]:
    # A file problem is the user's to fix, not a traceback: exit 1 with the message.
    try:
        yield
    except FileAccessError as exc:
        raise click.ClickException(str(exc)) from exc


def brotli_compressor() -> Callable[[bytes], bytes]:
    try:
        module = importlib.import_module("brotli")
    except ImportError:
        raise click.ClickException(
            "--brotli needs the brotli package, which is not installed: pip install brotli"
        ) from None

    def compress(data: bytes) -> bytes:
        return bytes(module.compress(data, quality=11))

    return compress
