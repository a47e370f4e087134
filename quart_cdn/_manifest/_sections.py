"""The parts of a JSON manifest that are not entries: ``entrypoints`` and ``integrity``.

* ``entrypoints``: what each front-end entry loads, in order. webpack-assets-manifest (with
  ``entrypoints: true``) writes ``{"main": {"assets": {"js": [...], "css": [...]}}}`` beside
  its entries; Symfony Encore's ``entrypoints.json`` is ``{"app": {"js": [...], "css":
  [...]}}``. A file may be written as a name or as ``{"src": name, "integrity": ...}``.
* ``integrity``: Encore's map of file to SRI hash (``{"/build/app.js": "sha384-..."}``).

A top-level key of that name whose value is an object is such a section (a string value is
an ordinary entry). Its value is built from the parser's events by :class:`Section`, within
bounds (depth, number of events), then read by :func:`read_section` a few hundred items a
step; every file name is checked by the one rule, as the entries' are.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Final

from ..exceptions import ManifestParseError
from ._base import MAX_ENTRIES, Entrypoint, quote, refuse
from ._names import MAX_ENTRY_LENGTH, check_file

__all__ = ["SECTIONS", "Entrypoint", "Section", "read_section"]

#: The top-level keys that hold a section, when their value is an object.
SECTIONS: Final = frozenset({"entrypoints", "integrity"})
#: How deep a section may nest (webpack-assets-manifest's file lists are at depth 4), and how
#: many parser events it may take.
MAX_SECTION_DEPTH: Final = 6
MAX_SECTION_EVENTS: Final = 2 * MAX_ENTRIES
#: How many items a step reads before it yields.
ITEMS_PER_STEP: Final = 256


class Section:
    """Builds the value of one section from parser events, refusing what is too big."""

    def __init__(self, name: str, source: str | None) -> None:
        self.name, self.source = name, source
        self.value: Any = None
        self._stack: list[Any] = []
        self._keys: list[str] = []
        self._events = 0

    def feed(self, event: str, value: Any) -> bool:
        """Take one event; whether the value is complete."""
        self._events += 1
        if self._events > MAX_SECTION_EVENTS:
            raise self._fail(f"has more than {MAX_SECTION_EVENTS:,} values")
        if event == "map_key":
            self._keys[-1] = value
            return False
        if event in ("end_map", "end_array"):
            self._stack.pop()
            self._keys.pop()
            return not self._stack
        if event in ("start_map", "start_array"):
            container: Any = {} if event == "start_map" else []
            self._add(container)
            self._stack.append(container)
            self._keys.append("")
            if len(self._stack) > MAX_SECTION_DEPTH:
                raise self._fail(f"is nested deeper than {MAX_SECTION_DEPTH} levels")
            return False
        self._add(value)
        return not self._stack

    def _add(self, item: Any) -> None:
        if not self._stack:
            self.value = item
        elif isinstance(top := self._stack[-1], dict):
            top[self._keys[-1]] = item
        else:
            top.append(item)

    def _fail(self, problem: str) -> ManifestParseError:
        return refuse(self.source, f"has {self.name!r} that {problem}")


def _wrong(source: str | None, where: str, value: object, expected: str) -> ManifestParseError:
    shown = "{...}" if isinstance(value, dict) else "[...]" if isinstance(value, list) else None
    return refuse(
        source,
        f"has {where} {shown or quote(value)} of type {type(value).__name__}; expected {expected}",
    )


def _files(
    source: str | None, cdn: str | None, where: str, files: Any, integrity: dict[str, str]
) -> Generator[None, None, tuple[str, ...]]:
    """A list of files, each a name or ``{"src": name, "integrity": hash}``."""
    if not isinstance(files, list):
        raise _wrong(source, where, files, "a list of files")
    names = []
    for count, file in enumerate(files, start=1):
        if isinstance(file, dict) and "src" in file:
            name = check_file(file["src"], f"file in {where}", source, cdn)
            if isinstance(sri := file.get("integrity"), str) and len(sri) <= MAX_ENTRY_LENGTH:
                integrity[name] = sri
        else:
            name = check_file(file, f"file in {where}", source, cdn)
        names.append(name)
        if count % ITEMS_PER_STEP == 0:
            yield
    return tuple(names)


def read_section(
    section: Section,
    entrypoints: dict[str, Entrypoint],
    integrity: dict[str, str],
    cdn: str | None = None,
) -> Generator[None, None, None]:
    """Check a complete section and add what it says to ``entrypoints`` or ``integrity``
    (files may be written as URLs of the CDN, ``cdn``)."""
    source, value = section.source, section.value
    for count, (name, item) in enumerate(value.items(), start=1):
        if section.name == "integrity":
            file = check_file(name, "file in 'integrity'", source, cdn)
            if not isinstance(item, str) or len(item) > MAX_ENTRY_LENGTH:
                raise _wrong(source, f"'integrity' of {quote(file)}", item, "an SRI hash")
            integrity[file] = item
        else:
            where = f"entrypoint {quote(name)}"
            if not isinstance(item, dict) or len(name) > MAX_ENTRY_LENGTH:
                raise _wrong(source, where, item, "an object with 'js' and 'css' lists")
            if isinstance(assets := item.get("assets"), dict):  # webpack-assets-manifest
                item = assets
            js = yield from _files(source, cdn, f"{where}'s 'js'", item.get("js", []), integrity)
            css = yield from _files(source, cdn, f"{where}'s 'css'", item.get("css", []), integrity)
            entrypoints[name] = Entrypoint(js, css)
        if count % ITEMS_PER_STEP == 0:
            yield
