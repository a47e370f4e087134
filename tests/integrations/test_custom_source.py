"""A manifest source of one's own, plugged in the two ways a user would: passed to the
adapter (``CDN(app, source=...)``, ``StarletteCDN(source=...)``) or named by a URL scheme
added to ``quart_cdn._sources.SCHEMES``."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from quart import Quart
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from quart_cdn import CDN, Manifest, ManifestSource, url_for
from quart_cdn._sources import SCHEMES, source_for
from quart_cdn.starlette import StarletteCDN

DOMAIN = "cdn.example.com"


class MemorySource(ManifestSource):
    """Serves manifests from a list in memory: each load gives the next one (the last stays)."""

    def __init__(self, *versions: str, location: str = "memory://test") -> None:
        self.location = location
        self.versions = list(versions)
        self.loads = 0

    @classmethod
    def from_location(
        cls, location: str, *, timeout: float, max_bytes: int, setting: str
    ) -> MemorySource:
        return cls("1111aaaa", location=location)

    async def load(self) -> Manifest:
        version = self.versions[min(self.loads, len(self.versions) - 1)]
        self.loads += 1
        return Manifest({"static/app.js": version}, kind="checksum", source=self.location)


def make_app(tmp_path: Path, **config: object) -> Quart:
    app = Quart(__name__, static_folder=str(tmp_path), static_url_path="/static")
    app.config.update({"CDN_DOMAIN": DOMAIN, "CDN_HTTPS": True, "CDN_MANIFEST": True, **config})
    return app


async def test_custom_source_passed_to_cdn(tmp_path: Path) -> None:
    """``CDN(app, source=...)`` needs no CDN_MANIFEST_URL; refresh() reloads from it."""
    source = MemorySource("1111aaaa", "2222bbbb")
    app = make_app(tmp_path)
    cdn = CDN(app, source=source)
    async with app.test_app(), app.app_context():
        assert url_for("static", filename="app.js") == f"https://{DOMAIN}/static/app.js?c=1111aaaa"
        await cdn.refresh()
        assert url_for("static", filename="app.js") == f"https://{DOMAIN}/static/app.js?c=2222bbbb"
    assert source.loads == 2


async def test_custom_source_passed_to_init_app(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    cdn = CDN()
    cdn.init_app(app, source=MemorySource("3333cccc"))
    async with app.test_app(), app.app_context():
        assert cdn.manifest is not None and cdn.manifest["static/app.js"] == "3333cccc"


def test_custom_source_needs_the_manifest_setting_on(tmp_path: Path) -> None:
    app = make_app(tmp_path, CDN_MANIFEST=False)
    with pytest.raises(ValueError, match="source was given but CDN_MANIFEST is off"):
        CDN(app, source=MemorySource("1111aaaa"))
    with pytest.raises(ValueError, match="source was given but manifest= is off"):
        StarletteCDN(domain=DOMAIN, source=MemorySource("1111aaaa"))


async def test_custom_source_passed_to_starlette(tmp_path: Path) -> None:
    templates = Jinja2Templates(env=__import__("jinja2").Environment())
    cdn = StarletteCDN(domain=DOMAIN, https=True, manifest=True, source=MemorySource("4444dddd"))
    cdn.install(templates)
    template = templates.env.from_string("{{ url_for('static', path='app.js') }}")

    async def page(request: Request) -> Response:
        return Response(template.render(request=request))

    app = Starlette(
        routes=[Route("/", page), Mount("/static", StaticFiles(directory=tmp_path), name="static")],
        lifespan=cdn.lifespan,
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            text = (await client.get("/")).text
    assert text == f"https://{DOMAIN}/static/app.js?c=4444dddd"


async def test_custom_scheme_added_to_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new scheme is one module and one line in SCHEMES, as a package of one's own does."""
    module = types.ModuleType("quart_cdn_test_memory_source")
    module.MemorySource = MemorySource  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(SCHEMES, "memory", f"{module.__name__}:MemorySource")
    source = source_for("memory://bucket/manifest", setting="CDN_MANIFEST_URL")
    assert isinstance(source, MemorySource) and source.location == "memory://bucket/manifest"

    app = make_app(tmp_path, CDN_MANIFEST_URL="memory://bucket/manifest")
    CDN(app)
    async with app.test_app(), app.app_context():
        assert url_for("static", filename="app.js").endswith("/static/app.js?c=1111aaaa")


def test_unknown_scheme_hint_lists_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SCHEMES, "memory", "somewhere:Nothing")
    with pytest.raises(ValueError, match=r"unsupported scheme 'gs'; use .*memory://"):
        source_for("gs://bucket/m.json")
