"""The ``quart-cdn`` command line: make manifests from a static directory.

A thin click shell around :mod:`quart_cdn._cli.digest`. It runs as ``python -m quart_cdn``, as
``quart-cdn`` and, through the ``quart.commands`` entry point, as ``quart cdn``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import click

from ..__version__ import __version__
from .._sources.truncation import seal_checksum_lines, seal_json
from ._shell import (
    ALGORITHM,
    DEFAULT_NAMES,
    SEAL,
    STATIC_DIR,
    brotli_compressor,
    emit,
    errors,
    list_for_manifest,
    output_option,
    progress,
    resolve_output,
)
from .digest import (
    checksum_manifest,
    file_digest,
    mapping_manifest,
    plan_digest,
)
from .files import clean, gzip_compress, write_copies
from .integrity import SRI_ALGORITHMS, IntegrityError, add_integrity, integrity_mapping

__all__ = ["main"]


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
@STATIC_DIR
@output_option(DEFAULT_NAMES["checksum"])
@ALGORITHM
@SEAL
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
    out = resolve_output(static_dir, output, "checksum")
    with errors():
        files = list_for_manifest(static_dir, out, "checksum", explicit=output is not None)
        digests = {}
        with progress(len(files), "Hashing") as tick:
            for rel in files:
                digests[rel] = file_digest(static_dir / rel, algorithm.lower())
                tick()
        body = checksum_manifest(digests, url_path=url_path)
        emit(seal_checksum_lines(body) if seal else body, out)
    if out is not None:
        click.echo(f"Wrote {len(digests)} checksums to {out}", err=True)


@main.command("digest")
@STATIC_DIR
@output_option(DEFAULT_NAMES["mapping"])
@ALGORITHM
@SEAL
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
        compressors[".br"] = brotli_compressor()
    out = resolve_output(static_dir, output, "mapping")
    with errors():
        files = list_for_manifest(static_dir, out, "mapping", explicit=output is not None)
        with progress(len(files), "Hashing") as tick:
            plan = plan_digest(static_dir, files, algorithm.lower(), tick=tick)
        mapping = plan.mapping()
        if not mapping:
            raise click.ClickException(
                f"no files to digest in {str(static_dir)!r}: all are hashed copies"
            )
        with progress(len(mapping), "Copying") as tick:
            written = write_copies(static_dir, mapping, compressors=compressors, tick=tick)
        values: Mapping[str, object] = mapping
        if with_integrity:
            values = integrity_mapping(mapping, static_dir)
        body = mapping_manifest(values)
        emit(seal_json(body, entries=len(mapping)) if seal else body, out)
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
    with errors():
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
        emit(text.encode("utf-8"), out)
    if out is not None:
        click.echo(f"Wrote SRI hashes for {len(result)} entries to {out}", err=True)
