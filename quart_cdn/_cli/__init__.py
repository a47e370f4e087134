"""The ``quart-cdn`` command line: make manifests from a static directory.

A thin click shell around :mod:`quart_cdn._cli.digest`. It runs as ``python -m quart_cdn``, as
``quart-cdn`` and, through the ``quart.commands`` entry point, as ``quart cdn``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

import click

from ..__version__ import __version__
from .._manifest import parse_manifest
from .._sources.truncation import TruncationError, seal_checksum_lines, seal_json, verify_seal
from ..exceptions import ManifestError
from .digest import (
    ALGORITHMS,
    FileAccessError,
    checksum_manifest,
    clean,
    file_digest,
    gzip_compress,
    list_files,
    mapping_manifest,
    name_problem,
    plan_digest,
    write_atomic,
    write_copies,
)
from .integrity import SRI_ALGORITHMS, IntegrityError, add_integrity, integrity_mapping

__all__ = ["main"]

#: Below this many files no progress bar is shown.
PROGRESS_MIN_FILES: Final = 200
#: Where each kind of manifest goes without -o, inside STATIC_DIR.
DEFAULT_NAMES: Final = {"checksum": "manifest.txt", "mapping": "manifest.json"}

_STATIC_DIR = click.argument(
    "static_dir",
    type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
)
_SEAL = click.option(
    "--seal/--no-seal",
    default=True,
    show_default=True,
    help="Put a seal first in the manifest (entry count and SHA-256 of the rest), so that "
    "the app refuses a copy cut short in transit or read while half written.",
)
_ALGORITHM = click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS, case_sensitive=False),
    default="md5",
    show_default=True,
    help="Hash function for the checksums (and the hashed names).",
)


def _output_option(default: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, allow_dash=True),
        help=f"Where to write the manifest ('-' for stdout). [default: STATIC_DIR/{default}]",
    )


def _show_progress(count: int) -> bool:
    return count >= PROGRESS_MIN_FILES and sys.stderr.isatty()


@contextlib.contextmanager
def _progress(count: int, label: str) -> Iterator[Callable[[], None]]:
    """Yield a tick function that advances a progress bar on stderr (when it is shown)."""
    if not _show_progress(count):
        yield lambda: None
        return
    # On stderr, never stdout: '-o -' sends the manifest itself there.
    with click.progressbar(length=count, label=label, file=sys.stderr) as bar:
        yield lambda: bar.update(1)


def _warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def _is_manifest(path: Path, kind: str) -> bool:
    try:
        data = verify_seal(path.read_bytes())
        return parse_manifest(data, source=str(path)).kind == kind
    except (OSError, TruncationError):
        return False
    except ManifestError:
        return kind == "mapping" and _is_integrity_mapping(data)


def _is_integrity_mapping(data: bytes) -> bool:
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


def _list(static_dir: Path, output: Path | None, kind: str, *, explicit: bool) -> list[str]:
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
        if other_kind != kind and other.is_file() and _is_manifest(other, other_kind):
            exclude.append(other)
    default = static_dir / DEFAULT_NAMES[kind]
    if default.is_file():
        if _is_manifest(default, kind):
            exclude.append(default)
        elif output == default and not explicit:
            raise click.ClickException(
                f"{str(output)!r} exists and is not a {kind} manifest; "
                "to replace it anyway, name it with -o"
            )
    files = []
    for rel in list_files(static_dir, exclude=exclude, warn=_warn):
        problem = name_problem(rel, kind=kind)
        if problem is None:
            files.append(rel)
        else:
            _warn(f"skipped {rel!r}: {problem}")
    if not files:
        raise click.ClickException(f"no files in {str(static_dir)!r}; a manifest needs one")
    return files


def _emit(data: bytes, output: Path | None) -> None:
    if output is None:
        click.echo(data, nl=False)  # bytes go to stdout's binary buffer, untranslated
    else:
        write_atomic(output, data, sync=True)


def _resolve_output(static_dir: Path, output: str | None, kind: str) -> Path | None:
    if output == "-":
        return None
    return Path(output) if output else static_dir / DEFAULT_NAMES[kind]


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    # A file problem is the user's to fix, not a traceback: exit 1 with the message.
    try:
        yield
    except FileAccessError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quart-cdn")
def main() -> None:
    """Make manifests that version a Quart app's static URLs on the CDN.

    \b
    Examples:
      python -m quart_cdn manifest app/static     # app/static/manifest.txt
      python -m quart_cdn digest app/static       # hashed copies + manifest.json
      quart cdn digest app/static --gzip --clean  # the same, through the quart command

    Then set CDN_MANIFEST = True and CDN_MANIFEST_URL to where the manifest is served or
    stored. Symbolic links are followed, to files and to directories, except a link to a
    directory that contains it (it would loop), which is skipped with a warning.
    """


@main.command("manifest")
@_STATIC_DIR
@_output_option(DEFAULT_NAMES["checksum"])
@_ALGORITHM
@_SEAL
@click.option(
    "--url-path",
    default="static",
    show_default=True,
    help="The URL path the directory is served under, put before each path "
    "(Quart's static_url_path without its leading '/'; '' for none).",
)
def manifest_command(
    static_dir: Path, output: str | None, algorithm: str, seal: bool, url_path: str
) -> None:
    """Write a checksum manifest of every file in STATIC_DIR.

    One line per file, exactly as md5sum prints them, sorted by path and the same bytes on
    every run: '<checksum>  static/css/app.css'. The app then links
    /static/css/app.css?c=<checksum>, and the files keep their names. The first line is a
    seal, '# quart-cdn manifest: <n> entries, sha256 <hex>' (md5sum -c skips it), unless
    --no-seal.

    The manifest goes to STATIC_DIR/manifest.txt (and is left out of itself) unless -o
    names another file; '-o -' prints it. Symbolic links are followed; a link to a
    directory that contains it is skipped (it would loop).

    \b
    Examples:
      python -m quart_cdn manifest app/static
      python -m quart_cdn manifest app/static --algorithm sha256 -o - > build/manifest.txt
      quart cdn manifest app/admin/static --url-path admin/static -o admin.txt
    """
    out = _resolve_output(static_dir, output, "checksum")
    with _errors():
        files = _list(static_dir, out, "checksum", explicit=output is not None)
        digests = {}
        with _progress(len(files), "Hashing") as tick:
            for rel in files:
                digests[rel] = file_digest(static_dir / rel, algorithm.lower())
                tick()
        body = checksum_manifest(digests, url_path=url_path)
        _emit(seal_checksum_lines(body) if seal else body, out)
    if out is not None:
        click.echo(f"Wrote {len(digests)} checksums to {out}", err=True)


def _brotli() -> Callable[[bytes], bytes]:
    try:
        module = importlib.import_module("brotli")
    except ImportError:
        raise click.ClickException(
            "--brotli needs the brotli package, which is not installed: pip install brotli"
        ) from None

    def compress(data: bytes) -> bytes:
        return bytes(module.compress(data, quality=11))

    return compress


@main.command("digest")
@_STATIC_DIR
@_output_option(DEFAULT_NAMES["mapping"])
@_ALGORITHM
@_SEAL
@click.option(
    "--clean", "remove_stale", is_flag=True, help="Remove hashed copies no manifest entry names."
)
@click.option(
    "--gzip", "use_gzip", is_flag=True, help="Write a .gz beside each hashed copy, where it helps."
)
@click.option(
    "--brotli", "use_brotli", is_flag=True, help="Write a .br too (needs: pip install brotli)."
)
@click.option(
    "--integrity",
    "with_integrity",
    is_flag=True,
    help='Write each value as {"src": ..., "integrity": "sha384-..."} '
    "(webpack-assets-manifest's shape), for entry_tags' SRI attributes.",
)
def digest_command(
    static_dir: Path,
    output: str | None,
    algorithm: str,
    seal: bool,
    remove_stale: bool,
    use_gzip: bool,
    use_brotli: bool,
    with_integrity: bool,
) -> None:
    """Write hashed copies of the files in STATIC_DIR and a JSON manifest of them.

    Each file gets a copy beside it whose name holds the first 8 hex digits of its checksum
    (css/app.css -> css/app.1a2b3c4d.css), and the manifest maps one to the other, keys
    sorted: {"css/app.css": "css/app.1a2b3c4d.css"}. The app then links
    /static/css/app.1a2b3c4d.css, which can be cached forever. The first member is a seal,
    "__quart_cdn__": {"entries": <n>, "sha256": <hex>}, unless --no-seal.

    Running it again is safe: hashed copies (recognised by checking that the digits match
    the original's checksum, or their own) and the manifest itself are not hashed again, and
    copies that exist are kept. --clean removes the copies of earlier versions. --gzip and
    --brotli add .gz/.br siblings, for formats not compressed already, where they save 5%.

    --integrity writes each value as an object with the file and its SRI hash (sha384), as
    webpack-assets-manifest does: {"css/app.css": {"src": "css/app.1a2b3c4d.css",
    "integrity": "sha384-..."}}; entry_tags() then adds integrity= and crossorigin=.

    The manifest goes to STATIC_DIR/manifest.json unless -o names another file.
    Symbolic links are followed (a copy holds the linked file's content); a link to a
    directory that contains it is skipped (it would loop).

    \b
    Examples:
      python -m quart_cdn digest app/static
      python -m quart_cdn digest app/static --clean --gzip --brotli
      quart cdn digest app/static --algorithm sha256 -o build/manifest.json
      python -m quart_cdn digest app/static --integrity
    """
    compressors: dict[str, Callable[[bytes], bytes]] = {}
    if use_gzip:
        compressors[".gz"] = gzip_compress
    if use_brotli:
        compressors[".br"] = _brotli()
    out = _resolve_output(static_dir, output, "mapping")
    with _errors():
        files = _list(static_dir, out, "mapping", explicit=output is not None)
        with _progress(len(files), "Hashing") as tick:
            plan = plan_digest(static_dir, files, algorithm.lower(), tick=tick)
        mapping = plan.mapping()
        if not mapping:
            raise click.ClickException(
                f"no files to digest in {str(static_dir)!r}: all are hashed copies"
            )
        with _progress(len(mapping), "Copying") as tick:
            written = write_copies(static_dir, mapping, compressors=compressors, tick=tick)
        values: Mapping[str, object] = mapping
        if with_integrity:
            values = integrity_mapping(mapping, static_dir)
        body = mapping_manifest(values)
        _emit(seal_json(body, entries=len(mapping)) if seal else body, out)
        removed = clean(static_dir, plan, mapping) if remove_stale else []
    where = "stdout" if out is None else str(out)
    click.echo(
        f"Wrote {written} files and a manifest of {len(mapping)} entries to {where}"
        + (f"; removed {len(removed)} stale files" if remove_stale else ""),
        err=True,
    )


def _default_root(manifest: Path) -> Path:
    # Vite writes its manifest to <outDir>/.vite/manifest.json.
    parent = manifest.parent
    return parent.parent if parent.name == ".vite" else parent


@main.command("integrity")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The build directory the manifest's files are in. "
    "[default: the manifest's directory, or its parent for .vite/manifest.json]",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write the manifest ('-' for stdout). [default: MANIFEST, in place]",
)
@click.option(
    "--algorithm",
    type=click.Choice(SRI_ALGORITHMS),
    default="sha384",
    show_default=True,
    help="The SRI hash function.",
)
@click.option(
    "--public-path",
    default="",
    help="A prefix the manifest's values carry that is not in the files' paths "
    "(webpack's output.publicPath, e.g. /static/).",
)
def integrity_command(
    manifest: Path, root: Path | None, output: str | None, algorithm: str, public_path: str
) -> None:
    """Add SRI hashes to a bundler's manifest that has none.

    A Vite manifest (build.manifest: true) gets an "integrity" field on every entry, as
    vite-plugin-manifest-sri writes it, and an entry of its own for each CSS file listed
    only in a chunk's "css" (the shape Vite writes for shared CSS). A JSON mapping
    (webpack-manifest-plugin) gets {"src": ..., "integrity": ...} values, as
    webpack-assets-manifest writes them. Run it after each build, before the manifest is
    deployed; entry_tags() then adds integrity= and crossorigin= to its tags.

    \b
    Examples:
      python -m quart_cdn integrity dist/.vite/manifest.json
      python -m quart_cdn integrity build/manifest.json --root build --public-path /static/
    """
    out = None if output == "-" else Path(output) if output else manifest
    try:
        data = json.loads(manifest.read_bytes())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {str(manifest)!r} as JSON: {exc}") from exc
    with _errors():
        try:
            result = add_integrity(
                data,
                root or _default_root(manifest),
                algorithm=algorithm,
                public_path=public_path,
            )
        except IntegrityError as exc:
            raise click.ClickException(f"{str(manifest)!r}: {exc}") from exc
        text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        _emit(text.encode("utf-8"), out)
    if out is not None:
        click.echo(f"Wrote SRI hashes for {len(result)} entries to {out}", err=True)
