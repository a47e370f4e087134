"""Bounded decoding of compressed manifests (``Content-Encoding``, S3 ``ContentEncoding``).

httpx and aiohttp inflate a body in one call per network chunk: a few KB of ``gzip, gzip``
or one brotli layer grow to gigabytes before any size check runs. A :class:`Decoder` is fed
raw bytes and gives decoded bytes back in slices of at most ``slice_size``, layer by layer,
so the caller counts what is produced, stops at its cap having held little more than one
slice per layer, and yields to the event loop between slices. A stream whose compressed
form ends early (no gzip trailer, an unfinished brotli stream) is refused by
:meth:`Decoder.finish`.

Supported: ``gzip`` (``x-gzip``), ``deflate`` (zlib-wrapped or raw, as browsers accept it),
``br`` when the ``brotli`` package is importable, ``identity``; at most
:data:`MAX_LAYERS` compressed layers.
"""

from __future__ import annotations

import importlib
import time
import zlib
from collections.abc import AsyncIterable, Callable
from typing import Any, Final

import anyio

__all__ = [
    "ACCEPT_ENCODING",
    "MAX_LAYERS",
    "SLICE",
    "DecodeError",
    "Decoder",
    "decode_stream",
    "parse_content_encoding",
    "release",
]

#: Most compressed layers accepted in one ``Content-Encoding`` (``gzip, gzip`` is two).
MAX_LAYERS: Final = 2
#: Largest piece of output (or of input handed to the next layer) made in one step.
SLICE: Final = 64 * 1024
# The event loop is given back at least this often while a body is decoded.
_YIELD_EVERY: Final = 0.001
# Decoded pieces freed at once before the loop gets a turn (2 MiB).
_RELEASE_BATCH: Final = 32
# Brotli input is fed a little at a time: the decoder fills its window from whatever it is
# given before honouring output_buffer_limit (1 KiB of a bomb: ~5 ms in one call, 64 KiB:
# ~11 ms). The step starts small and doubles while calls stay under _BROTLI_FAST seconds,
# so real bodies still decode in large steps.
_BROTLI_INPUT: Final = (64, 64 * 1024)
_BROTLI_FAST: Final = 0.0005
# Without output_buffer_limit (brotli < 1.2), less still.
_BROTLI_FALLBACK_INPUT: Final = 256


def _load_brotli() -> tuple[Any, bool] | None:
    try:
        module = importlib.import_module("brotli")
    except ImportError:
        return None
    try:
        module.Decompressor().process(b"", output_buffer_limit=1)
    except TypeError:
        return module, False  # brotli < 1.2: no output limit
    return module, True


_BROTLI: Final = _load_brotli()
#: What requests advertise: br only where it can be decoded.
ACCEPT_ENCODING: Final = "gzip, deflate, br" if _BROTLI is not None else "gzip, deflate"


class DecodeError(ValueError):
    """The body is not what its encoding says, or ends before its compressed stream does."""


class _Layer:
    """One encoding: ``push`` compressed input, ``pull`` at most ``limit`` decoded bytes."""

    name = "identity"

    def __init__(self) -> None:
        self.pending = b""

    @property
    def eof(self) -> bool:
        return True

    def needs_input(self) -> bool:
        """Nothing more comes out without more input."""
        return not self.pending

    def push(self, data: bytes) -> None:
        self.pending += data

    def pull(self, limit: int) -> bytes:
        out, self.pending = self.pending[:limit], self.pending[limit:]
        return out


class _Zlib(_Layer):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self._wbits = 16 + zlib.MAX_WBITS if name == "gzip" else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._started = False

    @property
    def eof(self) -> bool:
        return self._d.eof and not self.pending

    def pull(self, limit: int) -> bytes:
        if not self.pending:
            return b""
        if self._d.eof:  # another gzip member follows (RFC 1952 allows several)
            if self.name != "gzip":
                raise DecodeError(f"{len(self.pending)} bytes follow the end of the deflate data")
            self._d = zlib.decompressobj(self._wbits)
        try:
            out = self._d.decompress(self.pending, limit)
        except zlib.error as exc:
            if self.name == "deflate" and not self._started:
                # Raw deflate without the zlib header, as some servers send it.
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._decompress_raw(limit)
            else:
                raise DecodeError(f"invalid {self.name} data ({exc})") from exc
        self._started = True
        self.pending = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
        return out

    def _decompress_raw(self, limit: int) -> bytes:
        try:
            return self._d.decompress(self.pending, limit)
        except zlib.error as exc:
            raise DecodeError(f"invalid deflate data ({exc})") from exc


class _Brotli(_Layer):
    name = "br"

    def __init__(self, module: Any, limited: bool) -> None:
        super().__init__()
        self._d = module.Decompressor()
        self._error: type[Exception] = module.error
        self._limited = limited
        self._step = _BROTLI_INPUT[0]

    @property
    def eof(self) -> bool:
        return bool(self._d.is_finished()) and not self.pending

    def pull(self, limit: int) -> bytes:
        try:
            if self._limited:
                # Drain first: the decoder keeps output past the limit, and
                # can_accept_more_data() says nothing about that (brotli 1.2).
                if out := self._d.process(b"", output_buffer_limit=limit):
                    return bytes(out)
                if not self.pending:
                    return b""
                if self._d.is_finished():
                    raise DecodeError(f"{len(self.pending)} bytes follow the end of the br data")
                piece, self.pending = self.pending[: self._step], self.pending[self._step :]
                started = time.perf_counter()
                out = bytes(self._d.process(piece, output_buffer_limit=limit))
                if time.perf_counter() - started < _BROTLI_FAST:
                    self._step = min(self._step * 2, _BROTLI_INPUT[1])
                else:
                    self._step = _BROTLI_INPUT[0]
                return out
            piece = self.pending[:_BROTLI_FALLBACK_INPUT]
            self.pending = self.pending[_BROTLI_FALLBACK_INPUT:]
            return bytes(self._d.process(piece))
        except self._error as exc:
            raise DecodeError(f"invalid br data ({exc})") from exc


def parse_content_encoding(header: str) -> list[str]:
    """The codings of a ``Content-Encoding`` value in the order they were applied,
    ``identity`` left out, names lower-cased (``x-gzip`` is ``gzip``).

    Raises:
        DecodeError: an unknown coding, or more than :data:`MAX_LAYERS` layers.
    """
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    codings = ["gzip" if c == "x-gzip" else c for c in codings if c != "identity"]
    for coding in codings:
        if coding == "br" and _BROTLI is None:
            raise DecodeError("Content-Encoding 'br' needs the brotli package, not installed")
        if coding not in ("gzip", "deflate", "br"):
            raise DecodeError(f"unknown Content-Encoding {coding[:40]!r}")
    if len(codings) > MAX_LAYERS:
        raise DecodeError(
            f"{len(codings)} stacked Content-Encodings ({header[:80]!r}); at most {MAX_LAYERS}"
        )
    return codings


def _layer(coding: str) -> _Layer:
    if coding == "br":
        assert _BROTLI is not None
        return _Brotli(*_BROTLI)
    return _Zlib(coding)


class Decoder:
    """Decodes a body through its codings, never making more than ``slice_size`` bytes at once.

    Args:
        codings: as :func:`parse_content_encoding` gives them (applied first, first).
        slice_size: the most output one :meth:`pull` returns.

    Example::

        decoder = Decoder(["gzip"])
        for chunk in raw_chunks:
            decoder.push(chunk)
            while piece := decoder.pull():
                count(piece)
        decoder.finish()
    """

    def __init__(self, codings: list[str], *, slice_size: int = SLICE) -> None:
        # Decoded outermost first: the last coding applied is undone first.
        self._layers = [_layer(c) for c in reversed(codings)] or [_Layer()]
        self._slice = slice_size

    def push(self, data: bytes) -> None:
        """Hand over raw bytes as they arrived."""
        self._layers[0].push(data)

    def pull(self) -> bytes:
        """The next decoded bytes (at most ``slice_size``); ``b""`` when more input is needed."""
        return self._pull(len(self._layers) - 1, self._slice)

    def _pull(self, index: int, limit: int) -> bytes:
        layer = self._layers[index]
        while True:
            if out := layer.pull(limit):
                return out
            if not layer.needs_input():
                continue  # input or output still inside the layer: pull again
            if index == 0:
                return b""
            upstream = self._pull(index - 1, self._slice)
            if not upstream:
                return b""
            layer.push(upstream)

    def finish(self) -> None:
        """Check that every compressed stream ended (call once the raw body is over).

        Raises:
            DecodeError: a layer's stream ended early (a gzip stream without its trailer...).
        """
        for layer in self._layers:
            if not layer.eof:
                raise DecodeError(f"the {layer.name} stream ends before its end marker")


async def decode_stream(
    chunks: AsyncIterable[bytes],
    codings: list[str],
    *,
    limit: int,
    too_big: Callable[[], Exception],
    on_raw: Callable[[bytes], object] = len,
) -> tuple[list[bytes], int]:
    """Decode raw ``chunks`` as they arrive: the decoded pieces (never joined here, as one
    copy of a 30 MB body holds the loop for milliseconds) and the count of raw bytes.

    Raises ``too_big()`` as soon as more than ``limit`` decoded bytes were made, having
    held at most one more slice per layer; gives the event loop back every millisecond;
    calls ``on_raw`` with each raw chunk (a checksum of the raw body).

    Raises:
        DecodeError: the data is not what ``codings`` say, or ends before its stream does.
    """
    decoder, pieces, size, received = Decoder(codings), [], 0, 0
    since_yield, whole = time.perf_counter(), False
    try:
        async for raw in chunks:
            received += len(raw)
            on_raw(raw)
            decoder.push(raw)
            while piece := decoder.pull():
                pieces.append(piece)
                size += len(piece)
                if size > limit:
                    await release(pieces)
                    raise too_big()
                if time.perf_counter() - since_yield > _YIELD_EVERY:
                    await anyio.sleep(0)
                    since_yield = time.perf_counter()
        decoder.finish()
        whole = True
    except DecodeError:
        await release(pieces)
        raise
    finally:
        # The error's traceback holds this frame, and the refresher keeps the error as
        # last_error: whatever ended the read (a timeout too), no piece stays behind.
        if not whole:
            pieces.clear()
    return pieces, received


async def release(pieces: list[bytes]) -> None:
    """Empty ``pieces`` a few at a time: freeing 32 MiB at once holds the loop for
    milliseconds (the pages go back to the system)."""
    try:
        while pieces:
            del pieces[-_RELEASE_BATCH:]
            await anyio.sleep(0)
    finally:
        pieces.clear()  # cancelled on the way: the rest at once
