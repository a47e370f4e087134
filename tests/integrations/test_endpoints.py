"""Which endpoints are CDN endpoints, and the path each gets, in both frameworks: dotted
``CDN_ENDPOINTS`` entries, rules with a host or a subdomain, equal values of other types."""

from __future__ import annotations

from pathlib import Path

import httpx
import jinja2
from asgi_lifespan import LifespanManager
from quart import Blueprint, Quart
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from quart_cdn import CDN, url_for
from quart_cdn.starlette import StarletteCDN

DOMAIN = "cdn.example.com"


def make_app(tmp_path: Path, **config: object) -> Quart:
    (tmp_path / "static").mkdir(exist_ok=True)
    app = Quart(__name__, static_folder=str(tmp_path / "static"))
    app.config.update(CDN_DOMAIN=DOMAIN, CDN_HTTPS=True, CDN_TIMESTAMP=False, **config)
    return app


async def test_quart_dotted_endpoint_entry_matches_exactly(tmp_path: Path) -> None:
    """An entry ``admin.static`` serves exactly that endpoint, not the app's ``static``."""
    app = make_app(tmp_path, CDN_ENDPOINTS=["admin.static"])
    admin = Blueprint(
        "admin",
        __name__,
        static_folder=str(tmp_path),
        static_url_path="/static",
        url_prefix="/admin",
    )
    app.register_blueprint(admin)
    CDN(app)
    async with app.test_request_context("/"):
        assert url_for("admin.static", filename="x.js") == f"https://{DOMAIN}/admin/static/x.js"
        assert url_for("static", filename="x.js") == "/static/x.js"


async def test_quart_subdomain_blueprint_keeps_the_cdn_host(tmp_path: Path) -> None:
    app = make_app(tmp_path, SERVER_NAME="example.com")
    assets = Blueprint(
        "assets",
        __name__,
        static_folder=str(tmp_path),
        static_url_path="/static",
        subdomain="assets",
    )
    app.register_blueprint(assets, url_prefix="/s")
    CDN(app)
    async with app.app_context():
        assert url_for("assets.static", filename="x.js") == f"https://{DOMAIN}/s/static/x.js"


async def test_quart_host_matching_keeps_the_cdn_host(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    app = Quart(
        __name__,
        static_folder=str(tmp_path / "static"),
        host_matching=True,
        static_host="static.example.com",
    )
    app.config.update(CDN_DOMAIN=DOMAIN, CDN_HTTPS=True, CDN_TIMESTAMP=False)
    CDN(app)
    async with app.app_context():
        assert url_for("static", filename="x.js", v="2") == f"https://{DOMAIN}/static/x.js?v=2"


def test_starlette_dotted_endpoint_entry_matches_exactly() -> None:
    cdn = StarletteCDN(domain=DOMAIN, endpoints=["admin:static"])
    assert cdn.config.serves("admin:static", ":")
    assert cdn.config.serves("outer:admin:static", ":")
    assert not cdn.config.serves("static", ":")


async def test_starlette_dotted_endpoint_entry_in_a_template(tmp_path: Path) -> None:
    cdn = StarletteCDN(domain=DOMAIN, https=True, timestamp=False, endpoints=["admin:static"])
    env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ url_for(n, path='x.js') }}"}))
    templates = Jinja2Templates(env=env)
    cdn.install(templates)

    async def page(request: Request) -> Response:
        names = ("admin:static", "static")
        return Response(" ".join(env.get_template("t").render(request=request, n=n) for n in names))

    admin = Mount("/static", StaticFiles(directory=tmp_path), name="static")
    app = Starlette(
        routes=[
            Route("/", page),
            Mount("/admin", routes=[admin], name="admin"),
            Mount("/static", StaticFiles(directory=tmp_path), name="static"),
        ],
        lifespan=cdn.lifespan,
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            text = (await client.get("/")).text
    assert text == f"https://{DOMAIN}/admin/static/x.js http://t/static/x.js"


async def test_quart_equal_values_of_other_types_get_their_own_urls(tmp_path: Path) -> None:
    """``0 == False`` and ``1 == True`` but they build other URLs: the cache keeps them apart
    (found by hypothesis on Python 3.10)."""
    app = make_app(tmp_path)
    CDN(app)
    async with app.test_request_context("/"):
        for _ in range(2):  # cold, then warm
            assert url_for("static", filename="a.js", x=0).endswith("/static/a.js?x=0")
            assert url_for("static", filename="a.js", x=False).endswith("/static/a.js?x=False")
            assert url_for("static", filename="a.js", x=(0,)).endswith("/static/a.js?x=0")
            assert url_for("static", filename=1).endswith("/static/1")
            assert url_for("static", filename=True).endswith("/static/True")
