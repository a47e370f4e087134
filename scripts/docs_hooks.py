"""MkDocs hook: the settings table of ``docs/reference/settings.md``, made from the code.

The defaults come from ``quart_cdn._config.DEFAULTS``, the one mapping the Quart extension and
the Starlette adapter both read, so the table's defaults cannot drift. The meanings live here,
and the build fails when ``DEFAULTS`` has a setting that no sentence describes, or a sentence
describes a setting that ``DEFAULTS`` no longer has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mkdocs.exceptions import PluginError

from quart_cdn._config import DEFAULTS

#: The placeholder that the table replaces.
MARKER = "<!-- settings-table -->"
#: The page that must hold the placeholder.
PAGE = "reference/settings.md"

#: What each setting means, by field name (``CDN_`` + upper case for Quart, as is for
#: Starlette's keyword arguments).
DESCRIPTIONS: dict[str, str] = {
    "domain": (
        "`host[:port][/path-prefix]` of the CDN; a trailing `/` is ignored. Falsy: no URL "
        "changes. A scheme (`https://...`), user info, a query, a bad host or port is refused "
        "with a `ValueError` naming the setting. See [hostile input](../guides/hostile-input.md)."
    ),
    "https": (
        "`True`: https. `False`: http. `None`: the current request's scheme; outside a "
        "request https if `PREFER_SECURE_URLS`, else http. `_scheme=` on a call wins; "
        "`_scheme=''` gives `//cdn.example.com/...`."
    ),
    "debug": (
        "`True`: every URL is exactly the framework's own `url_for`. `None` (Quart): the "
        "app's debug flag. Starlette's `debug=` defaults to `False`."
    ),
    "timestamp": (
        "Append `t=<int(mtime)>` of the file in the endpoint's static folder; read once per "
        "file, then cached. A missing file gets no `t` and one warning."
    ),
    "endpoints": (
        "Endpoints served from the CDN: `x` matches `x` and every `<blueprint>.x` "
        "(Starlette: every `<mount>:x`)."
    ),
    "manifest": (
        "Version URLs from a [manifest](../guides/manifests.md); takes precedence over the "
        "timestamp rule."
    ),
    "manifest_url": (
        "Where the manifest lives: `http(s)://` URL, `file://` URL, filesystem path, or "
        "`s3://bucket/key` (extra `s3`). Required when the manifest is on."
    ),
    "manifest_refresh": (
        "Seconds between background reloads (each wait jittered by ±10 %), at least 1 (a "
        "smaller value is refused at startup); `None` or `0`: load once at startup. See "
        "[several workers](../guides/workers.md)."
    ),
    "manifest_timeout": (
        "Seconds allowed for one whole fetch: connecting, redirects and the body."
    ),
    "manifest_strict": (
        "Strict: a name missing from the manifest, a URL before any manifest was loaded and a "
        "failed startup load are errors. See [strictness and errors](../guides/errors.md)."
    ),
    "manifest_max_bytes": (
        "Refuse a manifest larger than this many bytes (counted after gzip/br decoding; "
        "32 MiB by default, a 100,000-entry JSON mapping is about 8 MB)."
    ),
}

#: Settings of the contract's turn-2 work, described ahead of their arrival in ``DEFAULTS``.
#: A planned setting may be missing from ``DEFAULTS``; once it is there, its sentence is used
#: like any other (move it up into DESCRIPTIONS then).
PLANNED: dict[str, str] = {
    "crossorigin": (
        "The `crossorigin` attribute put beside `integrity` by `entry_tags` "
        "([front-end entries](../guides/entries.md)); `None` omits it."
    ),
    "dev_server": (
        "The front-end dev server, e.g. `http://localhost:5173`: `entry_tags` loads entries "
        "and `/@vite/client` from it, and no manifest is loaded."
    ),
    "dev_server_react": (
        "With `dev_server`: add React Refresh's preamble, once per page, before the client."
    ),
    "preload_headers": (
        "Add `Link: <url>; rel=preload|modulepreload` headers for the files a page's "
        "`entry_tags` wrote (under 6,000 bytes in all)."
    ),
    "origin_cache": (
        "Answer CDN endpoints' requests of the current version with "
        "`Cache-Control: public, max-age=31536000, immutable`, of another version with "
        "`no-store`. `False`: leave caching headers to the framework. See "
        "[origin settings](../guides/origin.md)."
    ),
    "cors": (
        '`Access-Control-Allow-Origin` on CDN endpoints\' responses (`"*"` or one origin); '
        "`None` turns it off."
    ),
    "precompressed": (
        "Serve a `.br` or `.gz` sibling when the request accepts that encoding, with "
        "`Content-Encoding` and `Vary: Accept-Encoding`."
    ),
}


def _check(defaults: Mapping[str, Any]) -> dict[str, str]:
    """The meaning of every setting in ``defaults``, or a build error naming the drift."""
    undescribed = sorted(set(defaults) - set(DESCRIPTIONS) - set(PLANNED))
    stale = sorted(set(DESCRIPTIONS) - set(defaults))
    problems = []
    if undescribed:
        problems.append(
            f"quart_cdn._config.DEFAULTS has {', '.join(undescribed)} with no description: "
            "add one to DESCRIPTIONS in scripts/docs_hooks.py"
        )
    if stale:
        problems.append(
            f"DESCRIPTIONS in scripts/docs_hooks.py describes {', '.join(stale)}, which "
            "quart_cdn._config.DEFAULTS does not have: remove or rename it"
        )
    if problems:
        raise PluginError("Settings table out of step with the code: " + "; ".join(problems))
    return {name: DESCRIPTIONS.get(name) or PLANNED[name] for name in defaults}


def _default(value: Any) -> str:
    if isinstance(value, tuple | list | frozenset | set):
        value = sorted(value) if isinstance(value, frozenset | set) else list(value)
    return f"`{value!r}`"


def settings_table(defaults: Mapping[str, Any] = DEFAULTS) -> str:
    """The Markdown table: Quart key, Starlette keyword, default, meaning."""
    meanings = _check(defaults)
    rows = [
        "| Quart key | Starlette keyword | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, value in defaults.items():
        rows.append(f"| `CDN_{name.upper()}` | `{name}` | {_default(value)} | {meanings[name]} |")
    return "\n".join(rows) + "\n"


#: Sphinx roles in the package's docstrings (``:class:`X` ``), which Markdown leaves as text.
_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):(?=<code>)")
#: ``~quart_cdn._config.CDNConfig`` (Sphinx: show the last part only).
_TILDE = re.compile(r"<code>~(?:[\w.]+\.)?(\w+)</code>")


def on_page_content(html: str, /, *, page: Any, config: Any, files: Any) -> str:
    """Render the docstrings' Sphinx roles and ``::`` literal markers as plain Markdown would."""
    html = _ROLE.sub("", html)
    html = _TILDE.sub(r"<code>\1</code>", html)
    return html.replace("::</p>", ":</p>")


def on_page_markdown(markdown: str, /, *, page: Any, config: Any, files: Any) -> str:
    """Replace the marker on the settings page (and fail if that page lost it)."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} must contain {MARKER} where the settings table goes")
    return markdown.replace(MARKER, settings_table())
