"""Entry files as HTML tags, ``Link`` header values and :class:`EntryAssets`.

An entry's tags are rendered once per manifest, scheme and root path, into a
:class:`Rendered`: the markup cut where the call's extra attributes go, so that a warm
``entry_tags`` call with a per-request ``nonce`` is one ``str.join``. Attribute values are
HTML-escaped; attribute names are checked, since a name cannot be escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

from markupsafe import Markup, escape

__all__ = [
    "MAX_LINK_BYTES",
    "Asset",
    "EntryAssets",
    "Rendered",
    "Tag",
    "link_header",
    "cap_links",
    "render",
    "render_attrs",
]

#: All ``Link`` header values of one response together stay under this many bytes: some
#: proxies and servers refuse a response whose headers pass 8 KB.
MAX_LINK_BYTES: Final = 6000

#: What a tag can be: a stylesheet, a module preload, a module script, a classic script.
STYLE, PRELOAD, MODULE, CLASSIC = "style", "preload", "module", "classic"

#: Attributes that entry_tags writes itself (``crossorigin`` may be overridden).
_OWN: Final = frozenset({"rel", "href", "src", "type", "integrity"})
# What the HTML syntax allows in an attribute name, and nothing that would need escaping.
_ATTRIBUTE_NAME: Final = re.compile(r"[^\s\"'<>/=\x00-\x1f\x7f-\x9f&`]+")
_NEEDS_ESCAPE: Final = re.compile(r"[&<>\"']")
#: Attribute names already checked (they come from templates, so there are few).
_CHECKED_NAMES: set[str] = set()
MAX_CHECKED_NAMES: Final = 1000


class Asset(NamedTuple):
    """One file of an entry: its URL and its SRI hash (``None`` when the manifest has none)."""

    url: str
    integrity: str | None = None


class EntryAssets(NamedTuple):
    """An entry's files, for templates that write their own tags.

    Attributes:
        scripts: the entry's scripts.
        styles: its stylesheets, in cascade order.
        preloads: chunks to ``modulepreload``.
        module: the scripts are ES modules (``type="module"``); ``False``: classic
            scripts (webpack/Encore entrypoints, loaded in order with ``defer``).
    """

    scripts: tuple[Asset, ...] = ()
    styles: tuple[Asset, ...] = ()
    preloads: tuple[Asset, ...] = ()
    module: bool = True


class Tag(NamedTuple):
    """One tag to render: its kind (:data:`STYLE`...), URL and SRI hash."""

    kind: str
    url: str
    integrity: str | None = None


def _check_name(name: str) -> None:
    if not _ATTRIBUTE_NAME.fullmatch(name) or name.lower() in _OWN:
        shown = name if len(name) <= 40 else name[:37] + "..."
        reason = (
            "entry_tags writes it itself"
            if name.lower() in _OWN
            else "it is not a valid HTML attribute name"
        )
        raise ValueError(f"entry_tags() cannot take the attribute {shown!r}: {reason}")
    if len(_CHECKED_NAMES) < MAX_CHECKED_NAMES:
        _CHECKED_NAMES.add(name)


def render_attrs(attrs: Mapping[str, object]) -> str:
    """`` name="value"`` for each attribute: ``True`` bare, ``False``/``None`` left out,
    anything else as its escaped ``str``.

    Raises:
        ValueError: a name that is not a valid HTML attribute name, or one that
            entry_tags writes itself.
    """
    out = ""
    for name, value in attrs.items():
        if name not in _CHECKED_NAMES:  # names come from templates: checked once each
            _check_name(name)
        if value is True:
            out += f" {name}"
        elif value is not None and value is not False:
            # A nonce is usually plain base64: skip the escaping call when nothing needs it.
            if type(value) is not str or _NEEDS_ESCAPE.search(value):
                value = escape(value)
            out += f' {name}="{value}"'
    return out


def _crossorigin_attr(value: str | None) -> str:
    if value is None:
        return ""
    return " crossorigin" if value == "anonymous" else f' crossorigin="{escape(value)}"'


def _open_tag(tag: Tag, crossorigin: str | None) -> tuple[str, str]:
    """The tag up to where the extra attributes go, and what closes it."""
    url = escape(tag.url)
    sri = ""
    if tag.integrity is not None:
        sri = f' integrity="{escape(tag.integrity)}"' + _crossorigin_attr(crossorigin)
    if tag.kind == STYLE:
        return f'<link rel="stylesheet" href="{url}"{sri}', ">"
    if tag.kind == PRELOAD:
        return f'<link rel="modulepreload" href="{url}"{sri}', ">"
    if tag.kind == MODULE:
        return f'<script type="module" src="{url}"{sri}', "></script>"
    return f'<script src="{url}" defer{sri}', "></script>"


def link_header(tag: Tag, crossorigin: str | None) -> str:
    """The ``Link`` header value that preloads ``tag``'s file, as the tag would load it."""
    if tag.kind == STYLE:
        value = f"<{tag.url}>; rel=preload; as=style"
    elif tag.kind == CLASSIC:
        value = f"<{tag.url}>; rel=preload; as=script"
    else:
        value = f"<{tag.url}>; rel=modulepreload; as=script"
    if tag.integrity is not None:
        if crossorigin is not None:
            value += (
                "; crossorigin" if crossorigin == "anonymous" else f'; crossorigin="{crossorigin}"'
            )
        value += f'; integrity="{tag.integrity}"'
    return value


class Rendered:
    """The tags of one ``entry_tags`` call, rendered but for the call's extra attributes.

    Attributes:
        tags: what was rendered, for a call that overrides ``crossorigin``.
        pieces: the markup, cut where extra attributes go (one more piece than tags).
        plain: the markup without extra attributes.
        links: the ``Link`` header values for the same files.
    """

    __slots__ = ("crossorigin", "links", "pieces", "plain", "tags")

    def __init__(self, tags: Sequence[Tag], crossorigin: str | None) -> None:
        self.tags = tuple(tags)
        self.crossorigin = crossorigin
        pieces = [""]
        for tag in tags:
            opened, closed = _open_tag(tag, crossorigin)
            pieces[-1] += opened
            pieces.append(closed + "\n")
        pieces[-1] = pieces[-1].removesuffix("\n")
        self.pieces = tuple(pieces)
        self.plain = Markup("".join(pieces))
        self.links = tuple(link_header(tag, crossorigin) for tag in tags)

    def adjust(self, attrs: Mapping[str, object]) -> tuple[Rendered, Mapping[str, object]]:
        """The rendering for a call's ``attrs``: ``crossorigin`` among them replaces the
        setting's (in the tags and their ``Link`` values), and is taken out of them."""
        if "crossorigin" not in attrs:
            return self, attrs
        value = attrs["crossorigin"]
        crossorigin = (
            "anonymous" if value is True else None if value in (None, False) else str(value)
        )
        rest = {name: v for name, v in attrs.items() if name != "crossorigin"}
        return Rendered(self.tags, crossorigin), rest

    def markup(self, attrs: Mapping[str, object]) -> Markup:
        """The tags with ``attrs`` on each (``crossorigin`` already taken out by
        :meth:`adjust`)."""
        if not attrs:
            return self.plain
        return Markup(render_attrs(attrs).join(self.pieces))


def render(tags: Iterable[Tag], crossorigin: str | None) -> Rendered:
    """Render ``tags`` (see :class:`Rendered`)."""
    return Rendered(tuple(tags), crossorigin)


def cap_links(values: Iterable[str], limit: int = MAX_LINK_BYTES) -> list[str]:
    """The values, each once, in order, as many as fit in ``limit`` bytes joined by ``, ``
    (the first ones kept)."""
    kept: list[str] = []
    seen: set[str] = set()
    size = 0
    for value in values:
        if value in seen:
            continue
        seen.add(value)
        cost = len(value.encode()) + (2 if kept else 0)
        if size + cost >= limit:
            break
        kept.append(value)
        size += cost
    return kept
