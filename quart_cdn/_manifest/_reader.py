"""The state machine behind :mod:`.json`: ijson's events in, entries and chunks out.

It takes the events of a top-level object (``start_map``, ``map_key``, ``string``...) in
batches, keeps what each entry says (its string, or for an object the fields that a
``Chunk`` holds), refuses a value of the wrong type as soon as it starts, and checks the
names of the finished entries a batch at a time: all at once when :func:`names_usual`
passes them, else one by one with :func:`check_name`, which has the messages.
"""

from __future__ import annotations

import operator
from collections.abc import Generator
from typing import Any, Final

from ..exceptions import ManifestParseError
from ._base import MAX_ENTRIES, ChunkData, Parsed, quote, refuse, too_many
from ._names import MAX_ENTRY_LENGTH, cdn_path, check_file, check_name, names_usual
from ._sections import SECTIONS, Entrypoint, Section, read_section

__all__ = ["DONE", "Reader"]

# Where the reader is: before the top-level value; at a key of the top-level object, or
# its value; at a field of an entry object, its value, in a list of names, or in a value
# skipped whole; in a section (entrypoints...); after the object; in a top-level value
# that is not an object.
TOP, KEY, VALUE, FIELD, FIELD_VALUE, LIST, SKIP, SECTION, DONE, WRONG = range(10)

#: How deep a value may nest inside an entry (a Vite entry's lists are at depth 3).
MAX_DEPTH: Final = 32
#: The most names in one list of an entry, and the most parser events in a value skipped
#: (a field of no interest): a manifest entry is small.
MAX_LIST: Final = 10_000
MAX_SKIPPED: Final = 10_000
#: How many entries a careful check (one name at a time) does before it yields.
ENTRIES_PER_STEP: Final = 256

# The fields of an entry object that are kept: strings, lists of names, a flag.
_STRINGS: Final = frozenset({"file", "src", "integrity"})
#: An esbuild metafile's top-level keys: a shape to name in the error, not a format.
_ESBUILD_KEYS: Final = frozenset({"inputs", "outputs"})
_LISTS: Final = frozenset({"css", "imports", "dynamicImports", "assets"})
_KEY_LISTS: Final = frozenset({"imports", "dynamicImports"})  # of keys; the others of files
_KEPT: Final = _STRINGS | _LISTS | {"isEntry"}
_EXPECTED: Final = {**dict.fromkeys(_STRINGS, "a string"), "isEntry": "true or false"}
_STARTS: Final = frozenset({"start_map", "start_array"})
_ENDS: Final = frozenset({"end_map", "end_array"})
# The name of the file an entry object stands for, by shape.
_FILE_FIELD: Final = {"vite": "file", "assets": "src"}
_KIND, _VALUE = operator.itemgetter(0), operator.itemgetter(1)
_SHOWN: Final = {"start_map": "{...}", "start_array": "[...]"}
_TYPES: Final = {"start_map": "dict", "start_array": "list"}


def _type(event: str, value: Any) -> str:
    return _TYPES.get(event) or type(value).__name__


def _shown(event: str, value: Any) -> str:
    """``value`` quoted (an object or a list, only begun, as such), and its type."""
    return f"{_SHOWN.get(event) or quote(value)} of type {_type(event, value)}"


class Reader:
    """Reads one JSON manifest's events; :meth:`result` gives what it read."""

    def __init__(self, source: str | None, cdn: str | None = None) -> None:
        self.source, self.cdn = source, cdn
        self.state = TOP
        self.shape: str | None = None  # "json", "object" (until an entry ends), "vite"...
        # The entry being read: its key, the field being read, the fields kept so far, the
        # names of the list being read, whether it has more to say than its file; and how
        # deep the value being skipped is, and how many events of it went by.
        self.key = self.field = ""
        self.fields: dict[str, Any] = {}
        self.items: list[Any] = []
        self.more = False
        self.depth = self.skipped = 0
        self.wrong = ""  # the type of a top-level value that is not an object
        self.count = 0  # entries kept
        # The finished entries whose names are not checked yet: their keys, their files,
        # the names in their lists, and the fields of those that have more to say than
        # their file (with their index).
        self.keys: list[str] = []
        self.files: list[str] = []
        self.names: list[str] = []
        self.fuller: list[tuple[int, dict[str, Any]]] = []
        self.escaped = False  # the text of the finished entries holds an escape
        self.section: Section | None = None  # the section being read
        self.sections: list[Section] = []  # read, not checked yet
        self.entries: dict[str, str] = {}
        self.chunks: dict[str, ChunkData] = {}
        self.entrypoints: dict[str, Entrypoint] = {}
        self.integrity: dict[str, str] = {}  # file -> SRI hash

    def look(self, raw: bytes) -> None:
        """Take in the JSON text that the next events come from: whether it holds an
        escape, the only way a JSON string can hold a control character."""
        # An entry begun before this text also has names in the text before it.
        begun = self.state not in (TOP, KEY)
        self.escaped = b"\\" in raw or (begun and self.escaped)

    def _fail(self, problem: str) -> ManifestParseError:
        return refuse(self.source, problem)

    def feed(self, events: list[tuple[str, Any]]) -> None:
        """Read a batch of events."""
        at, end = 0, len(events)
        while at < end:
            if self.state == KEY and self.shape == "json":
                at = self._pairs(events, at)
            if at < end:
                at = self._walk(events, at)

    def _pairs(self, events: list[tuple[str, Any]], at: int) -> int:
        """Take the ``map_key``/``string`` pairs from ``events[at:]`` all at once, if all
        that follows is pairs (but maybe its last event); where to go on from."""
        # (zip(*events) would make an iterator per event: enough to set off the collector.)
        rest = events[at:]
        kinds = list(map(_KIND, rest))
        for count in (len(kinds) // 2, (len(kinds) - 1) // 2):
            end = 2 * count
            if kinds[0:end:2].count("map_key") == count and kinds[1:end:2].count("string") == count:
                values = list(map(_VALUE, rest[:end]))
                self.keys += values[0::2]
                self.files += values[1::2]
                return at + end
        return at

    def _walk(self, events: list[tuple[str, Any]], at: int) -> int:
        """Read ``events[at:]`` one at a time, up to where pairs may start (at a key of a
        mapping); where to go on from. The common events come first and are read inline,
        the rest (and every error) in the methods below."""
        state, key, field, fields = self.state, self.key, self.field, self.fields
        items, more, depth, skipped = self.items, self.more, self.depth, self.skipped
        keys, files, names = self.keys, self.files, self.names
        file = _FILE_FIELD.get(self.shape or "")  # the field that names the file, if known
        stop = len(events)
        pairs = enumerate(events[at:], at)
        for index, (event, value) in pairs:
            # A key, in an entry object or at the top: its value is the next event; taken
            # at once, in the same turn of the loop.
            if event == "map_key" and state in (FIELD, KEY):
                if state == FIELD:
                    field, state = value, FIELD_VALUE
                else:
                    key, state = value, VALUE
                if (pair := next(pairs, None)) is None:
                    break
                index, (event, value) = pair
            if state == FIELD_VALUE:
                state = FIELD
                if event == "string" and field in _STRINGS:
                    fields[field] = value
                    if field == "integrity":
                        more = True
                        if len(value) > MAX_ENTRY_LENGTH:
                            raise self._fail(f"entry {quote(key)} has an over-long 'integrity'")
                elif event == "boolean" and field == "isEntry":
                    fields[field] = value
                    more = more or value
                elif event == "start_array" and field in _LISTS:
                    items, state = [], LIST
                elif field in _KEPT:
                    raise self._wrong_field(key, field, event, value)
                elif event in _STARTS:  # a field of no interest: skipped whole
                    depth, skipped, state = 1, 0, SKIP
            elif state == FIELD:  # end_map: the entry is read
                if file is None or file not in fields:
                    file = self._end(key, fields)
                if more:
                    self.fuller.append((len(keys), fields))
                keys.append(key)
                files.append(fields[file])
                state = KEY
            elif state == KEY:  # end_map
                state = DONE
            elif state == VALUE:
                if event == "start_map" and file is not None and key not in SECTIONS:
                    fields, more, state = {}, False, FIELD
                    continue
                state = self._value(key, event, value)
                fields, more = {}, False
                if state == KEY:  # a mapping: pairs may follow
                    stop = index + 1
                    break
            elif state == LIST:
                if event == "string":
                    items.append(value)
                    if len(items) > MAX_LIST:
                        raise self._fail(
                            f"entry {quote(key)} has more than {MAX_LIST:,} names in {field!r}"
                        )
                elif event == "end_array":
                    fields[field] = tuple(items)
                    names += items
                    more, state = True, FIELD
                else:
                    raise self._wrong_field(key, field, event, value, "holding ")
            elif state == SECTION:
                assert self.section is not None
                if self.section.feed(event, value):
                    self.sections.append(self.section)
                    state = KEY
            elif state == SKIP:
                skipped += 1
                if event in _STARTS:
                    depth += 1
                    if depth + 2 > MAX_DEPTH or skipped > MAX_SKIPPED:
                        raise self._fail(
                            f"entry {quote(key)} has {field!r} nested deeper than "
                            f"{MAX_DEPTH} levels, or with more than {MAX_SKIPPED:,} values"
                        )
                elif event in _ENDS:
                    depth -= 1
                    state = SKIP if depth else FIELD
            elif state == TOP:
                if event == "start_map":
                    state = KEY
                else:
                    self.wrong, state = _type(event, value), WRONG
            else:  # WRONG: only yajl's verdict on the rest matters (DONE: yajl refuses more)
                break
        self.state, self.key, self.field, self.fields = state, key, field, fields
        self.items, self.more, self.depth, self.skipped = items, more, depth, skipped
        return stop

    def _value(self, key: str, event: str, value: Any) -> int:
        """The value of a top-level key, but an entry object of a known shape."""
        shape = self.shape
        if event == "start_map" and key in SECTIONS:
            self.section = Section(key, self.source)
            self.section.feed(event, value)
            return SECTION
        if event == "string" and shape in (None, "json"):
            self.shape = "json"
            self.keys.append(key)
            self.files.append(value)
            return KEY
        if event == "start_map" and shape is None:
            self.shape = "object"  # until the end of this first entry tells more
            return FIELD
        expected = "a string" if shape in (None, "json") else "an object, as the entries before it"
        raise self._fail(
            f"entry {quote(key)} has value {_shown(event, value)}; expected {expected}"
        )

    def _wrong_field(
        self, key: str, field: str, event: str, value: Any, holding: str = ""
    ) -> ManifestParseError:
        return self._fail(
            f"entry {quote(key)} has {field!r} {holding}{_shown(event, value)}; "
            f"expected {_EXPECTED.get(field, 'a list of names')}"
        )

    def _end(self, key: str, fields: dict[str, Any]) -> str:
        """The field that names the file, for an entry that ends without it, or the first
        entry (which tells the shape)."""
        if self.shape == "object":
            if "file" in fields:
                self.shape = "vite"
            elif "src" in fields:
                self.shape = "assets"
            elif key in _ESBUILD_KEYS:
                raise self._fail(
                    "looks like an esbuild metafile ('inputs' and 'outputs'), which maps no "
                    "source names to built files; write a manifest with a plugin "
                    "(esbuild-plugin-manifest) or with 'quart-cdn digest'"
                )
            else:
                raise self._fail(
                    f"entry {quote(key)} is an object with neither 'file' (as Vite writes) "
                    "nor 'src' (as webpack-assets-manifest writes)"
                )
        file = _FILE_FIELD[self.shape or ""]
        if file not in fields:
            bundler = "a Vite manifest" if self.shape == "vite" else "webpack-assets-manifest's"
            raise self._fail(f"looks like {bundler} but entry {quote(key)} has no {file!r}")
        return file

    def flush(self) -> Generator[None, None, None]:
        """Check and keep the finished entries: all names at once if they pass
        :func:`names_usual` as they are or without a leading ``/``, else one at a time."""
        for section in self.sections:
            yield from read_section(section, self.entrypoints, self.integrity, self.cdn)
        self.sections = []
        keys, files, names, fuller = self.keys, self.files, self.names, self.fuller
        if not keys:
            return
        self.keys, self.files, self.names, self.fuller = [], [], [], []
        self.count += len(keys)
        if self.count > MAX_ENTRIES:
            raise too_many(self.source)
        every, controls = [*keys, *files, *names], self.escaped
        if names_usual(every, controls=controls):
            self.entries.update(zip(keys, files, strict=True))
            for at, fields in fuller:
                self._keep(keys[at], files[at], fields)
            return
        if not fuller and max(map(len, every)) <= MAX_ENTRY_LENGTH:
            # Written with a public path in front ("/", or the CDN's URL): read as paths.
            files = [cdn_path(file, self.cdn) for file in files] if self.cdn else files
            stripped = [name.removeprefix("/") for name in (*keys, *files)]
            if names_usual(stripped, controls=controls):
                self.entries.update(zip(stripped[: len(keys)], stripped[len(keys) :], strict=True))
                return
        source, fields_at = self.source, dict(fuller)
        for at, (key, file) in enumerate(zip(keys, files, strict=True)):
            file = check_file(file, "value", source, self.cdn)  # the value first, as ever
            key = check_name(key, "key", source)
            self.entries[key] = file
            if (kept := fields_at.get(at)) is not None:
                for field in _LISTS & kept.keys():  # files, or keys ("imports")
                    what, cdn = f"name in {field!r} of {quote(key)}", self.cdn
                    kept[field] = tuple(
                        check_name(name, what, source)
                        if field in _KEY_LISTS
                        else check_file(name, what, source, cdn)
                        for name in kept[field]
                    )
                self._keep(key, file, kept)
            if at % ENTRIES_PER_STEP == ENTRIES_PER_STEP - 1:
                yield

    def wrong_shape(self) -> ManifestParseError:
        return self._fail(
            "is JSON of the wrong shape: expected an object mapping names to hashed "
            f"names, got {self.wrong or 'nothing'}"
        )

    def _keep(self, key: str, file: str, fields: dict[str, Any]) -> None:
        self.chunks[key] = chunk = _chunk(file, fields)
        if chunk[-1] is not None:
            self.integrity[file] = chunk[-1]

    def result(self) -> Parsed:
        """What was read, once the text has ended."""
        if self.state in (TOP, WRONG):
            raise self.wrong_shape()
        if not self.count and not self.entrypoints:
            raise self._fail("is an empty JSON object" if not self.integrity else "has no entries")
        shape = self.shape or "entrypoints"
        return Parsed(self.entries, "mapping", shape, self.chunks, self.entrypoints, self.integrity)


def _chunk(file: str, fields: dict[str, Any]) -> ChunkData:
    # A plain tuple, not a Chunk: the collector stops tracking a tuple of strings, so that
    # a large manifest does not make every later collection longer.
    get = fields.get
    return (
        file,
        get("css", ()),
        get("imports", ()),
        get("dynamicImports", ()),
        get("assets", ()),
        get("isEntry", False),
        get("integrity"),
    )
