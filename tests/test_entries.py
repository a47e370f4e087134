"""Entries, framework-free: resolution of an entry graph, tags, Link values, the cap, the
dev server's tags, the per-snapshot caches and the 'listed value' rule of the versioner."""

from __future__ import annotations

import logging

import pytest
from _graphs import SRI, VITE, VITE_SRI, WEBPACK, vite_manifest, webpack_manifest
from markupsafe import Markup

from quart_cdn import Asset, EntryAssets, ManifestNotLoadedError, NotInManifestError, UsageError
from quart_cdn._cache import Snapshot
from quart_cdn._config import CDNConfig
from quart_cdn._entries.builder import Entries, react_preamble
from quart_cdn._entries.graph import Chunk, EntryGraph
from quart_cdn._entries.resolve import Resolution, merge, resolve
from quart_cdn._entries.tags import (
    CLASSIC,
    MODULE,
    PRELOAD,
    STYLE,
    Rendered,
    Tag,
    cap_links,
    link_header,
    render_attrs,
)
from quart_cdn._versioning import Versioner

MAIN_STYLES = (
    "assets/colors-BfcG2swV.css",
    "assets/shared-BHUdJxg6.css",
    "assets/main-Dgve9Zdc.css",
)
MAIN_PRELOADS = ("assets/colors-YxKiF-rr.js", "assets/shared-CvM4hNf8.js")


def files(resolved: tuple[tuple[str, str | None], ...]) -> tuple[str, ...]:
    return tuple(name for name, _ in resolved)


# -- resolution ----------------------------------------------------------------------------


def test_resolve_vite_entry_follows_imports_recursively() -> None:
    """CSS of chunks two levels deep comes first (cascade order), then the entry's own."""
    resolution = resolve(VITE, "src/main.js")
    assert resolution is not None
    assert files(resolution.styles) == MAIN_STYLES
    assert files(resolution.preloads) == MAIN_PRELOADS
    assert files(resolution.scripts) == ("assets/main-ykIFk1bb.js",)
    assert resolution.classic == ()


def test_resolve_vite_entry_leaves_dynamic_imports_out() -> None:
    resolution = resolve(VITE, "src/main.js")
    assert resolution is not None
    everything = files(resolution.styles + resolution.preloads + resolution.scripts)
    assert not any("lazy" in name for name in everything)


def test_resolve_vite_css_entry_is_a_stylesheet() -> None:
    assert resolve(VITE, "src/theme.css") == Resolution(
        styles=(("assets/theme-Aa11Bb22.css", None),)
    )


def test_resolve_vite_integrity_from_graph() -> None:
    resolution = resolve(VITE_SRI, "src/main.js")
    assert resolution is not None
    assert resolution.scripts == (("assets/main-ykIFk1bb.js", "sha384-main"),)
    assert (
        dict(resolution.styles)["assets/colors-BfcG2swV.css"] == SRI["assets/colors-BfcG2swV.css"]
    )
    assert dict(resolution.preloads) == {
        "assets/colors-YxKiF-rr.js": "sha384-colorsjs",
        "assets/shared-CvM4hNf8.js": None,
    }


def test_resolve_vite_chunk_integrity_field() -> None:
    graph = EntryGraph(chunks={"a.js": Chunk("assets/a.js", integrity="sha384-a", is_entry=True)})
    resolution = resolve(graph, "a.js")
    assert resolution is not None and resolution.scripts == (("assets/a.js", "sha384-a"),)


def test_resolve_vite_cycles_and_missing_imports_end() -> None:
    graph = EntryGraph(
        chunks={
            "a.js": Chunk("a.js", imports=("_b.js", "_gone.js")),
            "_b.js": Chunk("b.js", imports=("a.js", "_b.js"), css=("b.css",)),
        }
    )
    resolution = resolve(graph, "a.js")
    assert resolution is not None
    assert files(resolution.preloads) == ("b.js",)  # the entry's own file is its script
    assert files(resolution.styles) == ("b.css",)


def test_resolve_webpack_entrypoint_in_order() -> None:
    resolution = resolve(WEBPACK, "main")
    assert resolution is not None
    assert resolution.classic == (
        ("js/runtime.1.js", None),
        ("js/775.2.js", None),
        ("js/main.3.js", "sha384-webpackmain"),
    )
    assert files(resolution.styles) == ("css/main.4.css",)
    assert resolution.scripts == resolution.preloads == ()


def test_resolve_unknown_entry_is_none() -> None:
    assert resolve(VITE, "src/nope.js") is None
    assert resolve(WEBPACK, "nope") is None


def test_merge_each_file_once_and_scripts_not_preloaded() -> None:
    main, admin = resolve(VITE, "src/main.js"), resolve(VITE, "src/admin.js")
    assert main is not None and admin is not None
    merged = merge([main, admin])
    assert files(merged.styles) == (*MAIN_STYLES, "assets/admin-DGtaoKTT.css")
    assert files(merged.preloads) == MAIN_PRELOADS
    assert files(merged.scripts) == ("assets/main-ykIFk1bb.js", "assets/admin-BNj4VwiH.js")
    # An entry whose file another entry imports is loaded once, as a script.
    shared = resolve(VITE, "_shared-CvM4hNf8.js")
    assert shared is not None
    merged = merge([main, shared])
    assert "assets/shared-CvM4hNf8.js" not in files(merged.preloads)
    webpack = merge([r for r in (resolve(WEBPACK, "main"), resolve(WEBPACK, "admin")) if r])
    assert files(webpack.classic) == (
        "js/runtime.1.js",
        "js/775.2.js",
        "js/main.3.js",
        "js/admin.5.js",
    )


# -- tags ---------------------------------------------------------------------------------


def test_render_attrs_bare_omitted_escaped() -> None:
    attrs = {"nonce": 'a"<b>&', "async": True, "hidden": False, "x": None, "data-n": 3}
    assert render_attrs(attrs) == ' nonce="a&#34;&lt;b&gt;&amp;" async data-n="3"'


@pytest.mark.parametrize("name", ["src", "href", "type", "rel", "integrity", 'a"b', "a b", ""])
def test_render_attrs_refuses_own_and_invalid_names(name: str) -> None:
    with pytest.raises(ValueError, match="entry_tags"):
        render_attrs({name: "x"})


def test_rendered_tags_shape() -> None:
    tags = [
        Tag(STYLE, "https://cdn/s.css", "sha384-s"),
        Tag(PRELOAD, "https://cdn/p.js"),
        Tag(MODULE, "https://cdn/m.js?a=1&b=2"),
        Tag(CLASSIC, "https://cdn/c.js"),
    ]
    rendered = Rendered(tags, "anonymous")
    assert rendered.plain == (
        '<link rel="stylesheet" href="https://cdn/s.css" integrity="sha384-s" crossorigin>\n'
        '<link rel="modulepreload" href="https://cdn/p.js">\n'
        '<script type="module" src="https://cdn/m.js?a=1&amp;b=2"></script>\n'
        '<script src="https://cdn/c.js" defer></script>'
    )
    assert isinstance(rendered.plain, Markup)
    with_nonce = rendered.markup({"nonce": "n1"})
    assert with_nonce.count(' nonce="n1"') == 4
    assert '<link rel="modulepreload" href="https://cdn/p.js" nonce="n1">' in with_nonce
    assert rendered.links == (
        '<https://cdn/s.css>; rel=preload; as=style; crossorigin; integrity="sha384-s"',
        "<https://cdn/p.js>; rel=modulepreload; as=script",
        "<https://cdn/m.js?a=1&b=2>; rel=modulepreload; as=script",
        "<https://cdn/c.js>; rel=preload; as=script",
    )


def test_rendered_crossorigin_setting_and_override() -> None:
    tag = Tag(MODULE, "u", "sha384-x")
    assert ' integrity="sha384-x">' in Rendered([tag], None).plain
    assert 'crossorigin="use-credentials"' in Rendered([tag], "use-credentials").plain
    assert link_header(tag, "use-credentials").endswith(
        '; crossorigin="use-credentials"; integrity="sha384-x"'
    )
    rendered, rest = Rendered([tag], "anonymous").adjust({"crossorigin": None, "nonce": "n"})
    assert rest == {"nonce": "n"}
    assert "crossorigin" not in rendered.markup(rest) and "crossorigin" not in rendered.links[0]
    rendered, _ = Rendered([tag], None).adjust({"crossorigin": "use-credentials"})
    assert 'crossorigin="use-credentials"' in rendered.plain


def test_rendered_empty() -> None:
    rendered = Rendered([], "anonymous")
    assert rendered.plain == "" and rendered.markup({"nonce": "x"}) == "" and rendered.links == ()


def test_cap_links_keeps_first_under_limit_once_each() -> None:
    values = [
        f"<https://cdn.example.com/static/assets/{i:04}.js>; rel=modulepreload" for i in range(200)
    ]
    kept = cap_links([*values[:3], values[0], *values[3:]])
    assert kept == values[: len(kept)]
    assert len(", ".join(kept).encode()) < 6000
    assert len(", ".join(values[: len(kept) + 1]).encode()) >= 6000
    assert cap_links(["a", "b"], limit=5) == ["a", "b"]  # "a, b": 4 bytes
    assert cap_links(["a", "b"], limit=4) == ["a"]
    assert cap_links(["toolong", "b"], limit=4) == []  # past the cap: left out, not reordered


# -- the builder ---------------------------------------------------------------------------


def entries(**settings: object) -> Entries:
    config = CDNConfig.from_settings({"manifest": True, "manifest_url": "m.json", **settings})
    return Entries(config, Versioner(config), key=lambda name: f"CDN_{name.upper()}")


def url(name: str) -> str:
    return f"https://cdn.example.com/static/{name}"


def test_entries_rendered_cached_per_snapshot() -> None:
    snapshot = Snapshot(vite_manifest(VITE_SRI))
    cache = snapshot.entry_view("https", "")
    built: list[str] = []

    def counting(name: str) -> str:
        built.append(name)
        return url(name)

    first = entries().rendered(snapshot, ("src/main.js",), cache, counting)
    again = entries().rendered(snapshot, ("src/main.js",), cache, counting)
    assert again is first and len(built) == 6
    assert first.plain.startswith(
        '<link rel="stylesheet" href="https://cdn.example.com/static/assets/colors-BfcG2swV.css"'
        ' integrity="sha384-colorscss" crossorigin>'
    )
    assert "src/main.js" in snapshot.resolutions


def test_entries_assets() -> None:
    snapshot = Snapshot(vite_manifest(VITE_SRI))
    assets = entries().assets(snapshot, "src/main.js", url)
    assert assets == EntryAssets(
        scripts=(Asset(url("assets/main-ykIFk1bb.js"), "sha384-main"),),
        styles=tuple(Asset(url(f), SRI.get(f)) for f in MAIN_STYLES),
        preloads=tuple(Asset(url(f), SRI.get(f)) for f in MAIN_PRELOADS),
        module=True,
    )
    webpack = entries().assets(Snapshot(webpack_manifest()), "admin", url)
    assert not webpack.module and [a.url for a in webpack.scripts][-1] == url("js/admin.5.js")


def test_entries_unknown_strict_names_entry() -> None:
    with pytest.raises(NotInManifestError, match=r"^src/nope\.js not found in manifest 'graph'"):
        entries().rendered(Snapshot(vite_manifest()), ("src/nope.js",), None, url)


def test_entries_unknown_in_manifest_without_entries_says_so() -> None:
    from quart_cdn import Manifest

    plain = Manifest({"a.js": "a.1.js"}, kind="mapping", format="json", source="m.json")
    with pytest.raises(NotInManifestError, match="defines no entries"):
        entries().assets(Snapshot(plain), "a.js", url)


def test_entries_unknown_lenient_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    builder = entries(manifest_strict=False)
    snapshot = Snapshot(vite_manifest())
    with caplog.at_level(logging.WARNING, logger="quart_cdn"):
        for _ in range(3):
            rendered = builder.rendered(snapshot, ("src/nope.js", "src/theme.css"), None, url)
            assert rendered.plain == (
                f'<link rel="stylesheet" href="{url("assets/theme-Aa11Bb22.css")}">'
            )
    assert [r.getMessage() for r in caplog.records if "src/nope.js" in r.getMessage()] != []
    assert len(caplog.records) == 1


def test_entries_not_loaded_strict_and_lenient(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ManifestNotLoadedError, match="entry 'src/main.js'"):
        entries().rendered(Snapshot(None), ("src/main.js",), None, url)
    with caplog.at_level(logging.WARNING, logger="quart_cdn"):
        assert entries(manifest_strict=False).assets(Snapshot(None), "x", url) == EntryAssets()
    assert "No manifest loaded yet" in caplog.text


def test_entries_need_manifest_or_dev_server() -> None:
    config = CDNConfig.from_settings({})
    builder = Entries(config, Versioner(config), key=lambda name: f"CDN_{name.upper()}")
    with pytest.raises(UsageError, match="CDN_MANIFEST.*CDN_DEV_SERVER"):
        builder.rendered(Snapshot(None), ("src/main.js",), None, url)


def test_entries_bad_names() -> None:
    with pytest.raises(TypeError, match="entry names"):
        entries().rendered(Snapshot(vite_manifest()), (), None, url)
    with pytest.raises(TypeError, match="must be a string"):
        entries().rendered(Snapshot(vite_manifest()), (1,), None, url)  # type: ignore[arg-type]


def test_entries_dev_tags() -> None:
    builder = entries(dev_server="http://localhost:5173/static/", dev_server_react=True)
    first = builder.dev_tags(("src/main.ts", "src/app.css"), {"nonce": "n"}, first=True)
    assert first == (
        f'<script type="module" nonce="n">{react_preamble("http://localhost:5173/static")}'
        "</script>\n"
        '<script type="module" src="http://localhost:5173/static/@vite/client" nonce="n">'
        "</script>\n"
        '<script type="module" src="http://localhost:5173/static/src/main.ts" nonce="n">'
        "</script>\n"
        '<link rel="stylesheet" href="http://localhost:5173/static/src/app.css" nonce="n">'
    )
    later = builder.dev_tags(("src/main.ts",), {}, first=False)
    assert later == (
        '<script type="module" src="http://localhost:5173/static/src/main.ts"></script>'
    )
    assert builder.dev_assets("src/main.ts") == EntryAssets(
        scripts=(Asset("http://localhost:5173/static/src/main.ts"),)
    )


# -- the versioner: a listed file is its own URL -------------------------------------------


def test_versioner_listed_value_has_no_version() -> None:
    config = CDNConfig.from_settings({"manifest": True, "manifest_url": "m", "timestamp": True})
    versioner = Versioner(config)
    manifest = vite_manifest()
    # A value of the mapping, a CSS file only in the graph, an asset only in the graph.
    for name in ("assets/main-ykIFk1bb.js", "assets/main-Dgve9Zdc.css", "assets/box-HjG3aW9d.png"):
        assert versioner.version(manifest, f"static/{name}", name, "/nowhere") == (None, None)
    assert versioner.version(manifest, "static/src/main.js", "src/main.js", None) == (
        "assets/main-ykIFk1bb.js",
        None,
    )
    with pytest.raises(NotInManifestError):
        versioner.version(manifest, "static/assets/other.js", "assets/other.js", None)
    webpack = webpack_manifest()
    assert versioner.version(webpack, "static/js/775.2.js", "js/775.2.js", None) == (None, None)
