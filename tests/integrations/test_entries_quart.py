"""Entries in a Quart app: ``entry_tags`` in templates, ``entry_assets``, the request pin, a
reload, strictness, the CDN off, the dev server's tags and the ``Link`` preload header."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from _graphs import SRI, VITE, VITE_SRI, GraphSource, vite_manifest, webpack_manifest
from quart import Quart, render_template_string, request

from quart_cdn import (
    CDN,
    Asset,
    EntryAssets,
    NotInManifestError,
    UsageError,
    entry_assets,
    entry_tags,
    url_for,
)
from quart_cdn._entries.graph import Chunk, EntryGraph

CDN_STATIC = "http://cdn.example.com/static"
MAIN_TAGS = (
    f'<link rel="stylesheet" href="{CDN_STATIC}/assets/colors-BfcG2swV.css"'
    ' integrity="sha384-colorscss" crossorigin nonce="n&amp;1">\n'
    f'<link rel="stylesheet" href="{CDN_STATIC}/assets/shared-BHUdJxg6.css" nonce="n&amp;1">\n'
    f'<link rel="stylesheet" href="{CDN_STATIC}/assets/main-Dgve9Zdc.css" nonce="n&amp;1">\n'
    f'<link rel="modulepreload" href="{CDN_STATIC}/assets/colors-YxKiF-rr.js"'
    ' integrity="sha384-colorsjs" crossorigin nonce="n&amp;1">\n'
    f'<link rel="modulepreload" href="{CDN_STATIC}/assets/shared-CvM4hNf8.js" nonce="n&amp;1">\n'
    f'<script type="module" src="{CDN_STATIC}/assets/main-ykIFk1bb.js"'
    ' integrity="sha384-main" crossorigin nonce="n&amp;1"></script>'
)


def make_app(tmp_path: Path, source: GraphSource | None = None, **config: Any) -> Quart:
    app = Quart(__name__, static_folder=str(tmp_path / "static"))
    app.config.update(
        TESTING=True,
        CDN_DOMAIN="cdn.example.com",
        CDN_MANIFEST=True,
        CDN_MANIFEST_URL="graph",
        **config,
    )
    CDN(app, source=source or GraphSource(vite_manifest(VITE_SRI)))

    @app.route("/page")
    async def page() -> str:
        names = request.args.getlist("entry") or ["src/main.js"]
        return await render_template_string(
            "{{ entry_tags(*names, nonce=nonce) }}", names=names, nonce=request.args.get("nonce")
        )

    return app


async def test_entry_tags_quart_template_global(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.test_app():
        response = await app.test_client().get("/page?nonce=n%261")
        assert response.status_code == 200
        assert await response.get_data(as_text=True) == MAIN_TAGS


async def test_entry_tags_quart_module_function_and_assets(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.test_app(), app.test_request_context("/"):
        assert entry_tags("src/main.js", nonce="n&1") == MAIN_TAGS
        assets = entry_assets("src/main.js")
        assert isinstance(assets, EntryAssets)
        assert assets.scripts == (Asset(f"{CDN_STATIC}/assets/main-ykIFk1bb.js", "sha384-main"),)
        assert [a.integrity for a in assets.styles] == [
            SRI["assets/colors-BfcG2swV.css"],
            None,
            None,
        ]
        assert assets.module
        # Every URL is url_for's for that file name.
        for asset in assets.styles + assets.preloads + assets.scripts:
            name = asset.url.removeprefix(f"{CDN_STATIC}/")
            assert url_for("static", filename=name) == asset.url


async def test_entry_tags_quart_outside_a_request(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.test_app(), app.app_context():
        assert entry_tags("src/main.js", nonce="n&1") == MAIN_TAGS


async def test_entry_tags_quart_webpack_entrypoints_classic_defer(tmp_path: Path) -> None:
    app = make_app(tmp_path, GraphSource(webpack_manifest()), CDN_CROSSORIGIN="use-credentials")
    async with app.test_app(), app.test_request_context("/"):
        assert entry_tags("main") == (
            f'<link rel="stylesheet" href="{CDN_STATIC}/css/main.4.css">\n'
            f'<script src="{CDN_STATIC}/js/runtime.1.js" defer></script>\n'
            f'<script src="{CDN_STATIC}/js/775.2.js" defer></script>\n'
            f'<script src="{CDN_STATIC}/js/main.3.js" defer integrity="sha384-webpackmain"'
            ' crossorigin="use-credentials"></script>'
        )
        assert not entry_assets("admin").module


async def test_entry_tags_quart_reload_changes_next_page_not_this_one(tmp_path: Path) -> None:
    source = GraphSource(vite_manifest(VITE))
    app = make_app(tmp_path, source)
    cdn: CDN = app.extensions["cdn"]
    newer = EntryGraph(chunks={"src/main.js": Chunk("assets/main-NEW.js", is_entry=True)})
    async with app.test_app():
        async with app.test_request_context("/"):
            before = entry_tags("src/main.js")
            source.manifest = vite_manifest(newer)
            await cdn.refresh()
            # The same request stays on its manifest, for tags and for url_for alike.
            assert entry_tags("src/main.js") == before
            assert "main-ykIFk1bb.js" in entry_assets("src/main.js").scripts[0].url
            assert url_for("static", filename="src/main.js").endswith("/main-ykIFk1bb.js")
        async with app.test_request_context("/"):
            assert entry_tags("src/main.js") == (
                f'<script type="module" src="{CDN_STATIC}/assets/main-NEW.js"></script>'
            )


async def test_entry_tags_quart_unknown_entry_strict(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.test_app(), app.test_request_context("/"):
        with pytest.raises(NotInManifestError, match=r"^src/nope\.js not found in manifest"):
            entry_tags("src/nope.js")


async def test_entry_tags_quart_unknown_entry_lenient(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, CDN_MANIFEST_STRICT=False)
    with caplog.at_level(logging.WARNING, logger="quart_cdn"):
        async with app.test_app():
            for _ in range(2):
                response = await app.test_client().get("/page?entry=src/nope.js")
                assert await response.get_data(as_text=True) == ""
                assert "Link" not in response.headers
    assert len([r for r in caplog.records if "src/nope.js" in r.getMessage()]) == 1


async def test_entry_tags_quart_cdn_off_gives_local_urls(tmp_path: Path) -> None:
    app = make_app(tmp_path, CDN_DEBUG=True)
    cdn: CDN = app.extensions["cdn"]
    async with app.test_app():
        await cdn.refresh()  # with the CDN off, no manifest is loaded at startup
        async with app.test_request_context("/"):
            tags = entry_tags("src/theme.css", "src/main.js")
        assert tags.startswith('<link rel="stylesheet" href="/static/assets/theme-Aa11Bb22.css">')
        assert '<script type="module" src="/static/assets/main-ykIFk1bb.js"' in tags


async def test_entry_tags_quart_needs_an_app(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="app context"):
        entry_tags("src/main.js")
    plain = Quart(__name__)
    async with plain.app_context():
        with pytest.raises(UsageError, match=r"CDN\(app\)"):
            entry_assets("src/main.js")


# -- the dev server -------------------------------------------------------------------------


async def test_entry_tags_quart_dev_server_client_once_per_page(tmp_path: Path) -> None:
    app = make_app(
        tmp_path, CDN_DEV_SERVER="http://localhost:5173/static", CDN_DEV_SERVER_REACT=True
    )

    @app.route("/two")
    async def two() -> str:
        return await render_template_string(
            "{{ entry_tags('src/main.ts', nonce='n') }}\n{{ entry_tags('src/admin.ts') }}"
        )

    async with app.test_app():
        assert app.extensions["cdn"].manifest is None  # not loaded in this mode
        for _ in range(2):  # each page gets its client
            body = await (await app.test_client().get("/two")).get_data(as_text=True)
            assert body.count("/@vite/client") == 1
            assert body.count("/@react-refresh") == 1
            assert body.index("@react-refresh") < body.index("@vite/client")
            assert '<script type="module" nonce="n">import RefreshRuntime' in body
            assert body.endswith(
                '<script type="module" src="http://localhost:5173/static/src/admin.ts"></script>'
            )
    async with app.app_context():
        assert entry_assets("src/main.ts").scripts == (
            Asset("http://localhost:5173/static/src/main.ts"),
        )


# -- Link preload headers -------------------------------------------------------------------


async def test_entry_tags_quart_link_header(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.test_app():
        response = await app.test_client().get("/page?entry=src/main.js&entry=src/admin.js")
        links = response.headers.get_all("Link")
        assert links == [
            f"<{CDN_STATIC}/assets/colors-BfcG2swV.css>; rel=preload; as=style; crossorigin; "
            'integrity="sha384-colorscss", '
            f"<{CDN_STATIC}/assets/shared-BHUdJxg6.css>; rel=preload; as=style, "
            f"<{CDN_STATIC}/assets/main-Dgve9Zdc.css>; rel=preload; as=style, "
            f"<{CDN_STATIC}/assets/admin-DGtaoKTT.css>; rel=preload; as=style, "
            f"<{CDN_STATIC}/assets/colors-YxKiF-rr.js>; rel=modulepreload; as=script; "
            'crossorigin; integrity="sha384-colorsjs", '
            f"<{CDN_STATIC}/assets/shared-CvM4hNf8.js>; rel=modulepreload; as=script, "
            f"<{CDN_STATIC}/assets/main-ykIFk1bb.js>; rel=modulepreload; as=script; "
            'crossorigin; integrity="sha384-main", '
            f"<{CDN_STATIC}/assets/admin-BNj4VwiH.js>; rel=modulepreload; as=script"
        ]
        # A page without entry_tags gets none.
        assert "Link" not in (await app.test_client().get("/static/nothing")).headers


async def test_entry_tags_quart_link_header_off(tmp_path: Path) -> None:
    app = make_app(tmp_path, CDN_PRELOAD_HEADERS=False)
    async with app.test_app():
        response = await app.test_client().get("/page")
        assert "modulepreload" in await response.get_data(as_text=True)
        assert "Link" not in response.headers


async def test_entry_tags_quart_link_header_cap(tmp_path: Path) -> None:
    """Past 6,000 bytes, files are left out of the header (not the page), first ones kept."""
    chunks = {f"_c{i}.js": Chunk(f"assets/chunk-{i:03}-{'x' * 40}.js") for i in range(200)}
    chunks["src/big.js"] = Chunk("assets/big.js", imports=tuple(chunks), is_entry=True)
    app = make_app(tmp_path, GraphSource(vite_manifest(EntryGraph(chunks=chunks))))
    async with app.test_app():
        response = await app.test_client().get("/page?entry=src/big.js")
        body = await response.get_data(as_text=True)
        assert body.count("modulepreload") == 200
        [link] = response.headers.get_all("Link")
        assert 5000 < len(link.encode()) < 6000
        values = link.split(", ")
        assert values[0].startswith(f"<{CDN_STATIC}/assets/chunk-000-")
        numbers = [int(v.split("chunk-")[1][:3]) for v in values]
        assert numbers == list(range(len(values)))  # the first ones, in order


async def test_entry_tags_quart_attributes_and_overrides(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.test_app(), app.test_request_context("/"):
        warm = entry_tags("src/main.js")  # then from the request's cache
        tags = entry_tags(
            "src/main.js", crossorigin="use-credentials", defer=False, **{"data-x": 1}
        )
        assert tags.count('crossorigin="use-credentials" data-x="1"') == 3  # the hashed files
        assert "defer" not in tags and tags.count('data-x="1"') == 6
        assert entry_tags("src/main.js", crossorigin=None).count("crossorigin") == 0
        assert entry_tags("src/main.js") == warm
        with pytest.raises(ValueError, match="cannot take the attribute 'src'"):
            entry_tags("src/main.js", src="x")
        with pytest.raises(ValueError, match="not a valid HTML attribute name"):
            entry_tags("src/main.js", **{"on load": "x"})
        with pytest.raises(TypeError, match="must be a string"):
            entry_tags(["src/main.js"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="1 to 32 entry names"):
            entry_tags()
