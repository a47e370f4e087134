"""Flask-CDN's and Flask-CDN-NG's test cases, ported to Quart and quart-cdn's public contract.

The originals are Flask-CDN's ``tests/test_flask_cdn.py`` (``DefaultsTest``, ``UrlTests``,
``BlueprintTest``, the ``_scheme`` test of its later forks) and Flask-CDN-NG's
``tests/test_flask_cdn.py`` and ``tests/test_manifest.py``. Each class or function there maps
to a group here; where an original and ``CONTRACT.md`` disagree, the contract wins and the
test says so (``CDN_HTTPS=False`` stays http on a secure request, ``_scheme=''`` rather than
``_scheme=None`` asks for a protocol-relative URL, and ``static`` always means the app's own
static folder, even from a view of a blueprint that has one).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _server import ManifestServer
from quart import Blueprint, Quart, render_template_string, request, url_for as quart_url_for

from quart_cdn import (
    CDN,
    CDNFileNotFoundInManifest,
    CDNManifestUrlError,
    ManifestError,
    NotInManifestError,
    url_for,
)

DOMAIN = "mycdnname.cloudfront.net"
CDN_URL = f"http://{DOMAIN}/static/bah.js"
STATIC_TEMPLATE = "{{ url_for('static', filename='bah.js') }}"

# Fixed modification times, so that each folder's `t=` is told apart from the others'.
APP_MTIME = 1_700_000_000
BP_MTIME = 1_600_000_000
CHILD_MTIME = 1_500_000_000

SCRIPT_CHECKSUM = "afb9d1dccb6ae4b29df7a48dbd65fc4e"
STYLE_CHECKSUM = "7fde23188113df6aa5a0ef2dd875e597"
BAH_CHECKSUM = "43483883da7b45f38d328a616d6163b2"
MANIFEST = f"""
{SCRIPT_CHECKSUM}  static/js/script.js
{STYLE_CHECKSUM}  static/css/style.css
{BAH_CHECKSUM}  static/bah.js
9e25e8e29ef0ea358e9778082ffd97d8  static/libs/bootstrap3/js/bootstrap.min.js
""".encode()


def write_file(path: Path, mtime: int, body: str = "// asset\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    os.utime(path, (mtime, mtime))
    return path


def configure(app: Quart, **config: Any) -> CDN:
    """Set ``CDN_DOMAIN`` plus ``config`` on ``app``, then initialise the extension on it."""
    app.config["CDN_DOMAIN"] = DOMAIN
    app.config.update(config)
    return CDN(app)


async def render(app: Quart, template: str, *, path: str = "/render", scheme: str = "http") -> str:
    """Render ``template`` in a view of ``app`` reached through the test client."""
    response = await app.test_client().get(path, query_string={"template": template}, scheme=scheme)
    assert response.status_code == 200
    return await response.get_data(as_text=True)


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    write_file(folder / "bah.js", APP_MTIME)
    return folder


@pytest.fixture
def app(static_dir: Path) -> Quart:
    app = Quart(__name__, static_folder=str(static_dir))
    app.config["TESTING"] = True

    @app.route("/")
    async def index() -> str:
        return await render_template_string("{{ url_for('index') }}")

    @app.route("/render")
    async def render_view() -> str:
        return await render_template_string(request.args["template"])

    return app


# -- DefaultsTest ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "default"),
    [
        ("CDN_DOMAIN", None),
        ("CDN_HTTPS", None),
        ("CDN_DEBUG", False),
        ("CDN_TIMESTAMP", True),
        ("CDN_ENDPOINTS", ["static"]),
        ("CDN_MANIFEST", False),
        ("CDN_MANIFEST_URL", None),
        ("CDN_MANIFEST_REFRESH", None),
        ("CDN_MANIFEST_TIMEOUT", 10.0),
        ("CDN_MANIFEST_STRICT", True),
    ],
)
def test_init_app_sets_default(app: Quart, key: str, default: object) -> None:
    CDN(app)

    assert app.config[key] == default


def test_init_app_debug_default_follows_app_debug(app: Quart) -> None:
    app.debug = True

    CDN(app)

    assert app.config["CDN_DEBUG"] is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("CDN_DOMAIN", DOMAIN),
        ("CDN_HTTPS", True),
        ("CDN_DEBUG", True),
        ("CDN_TIMESTAMP", False),
        ("CDN_ENDPOINTS", ["static", "files"]),
    ],
)
def test_init_app_keeps_configured_value(app: Quart, key: str, value: object) -> None:
    """Defaults are set with ``setdefault``: a value set before ``init_app`` stays."""
    app.config[key] = value

    CDN(app)

    assert app.config[key] == value


# -- UrlTests.test_url_for -----------------------------------------------------------------------


async def test_url_for_non_cdn_endpoint_in_template_unchanged(app: Quart) -> None:
    configure(app, CDN_TIMESTAMP=False)

    assert await render(app, "", path="/") == "/"


async def test_url_for_static_in_template_uses_cdn(app: Quart) -> None:
    configure(app, CDN_TIMESTAMP=False)

    assert await render(app, STATIC_TEMPLATE) == CDN_URL


async def test_url_for_jinja_global_matches_module_function(app: Quart) -> None:
    """Flask-CDN-NG's tests call ``app.jinja_env.globals['url_for']`` directly."""
    configure(app, CDN_TIMESTAMP=False)

    async with app.test_request_context("/"):
        jinja_url_for = app.jinja_env.globals["url_for"]
        assert callable(jinja_url_for)
        assert jinja_url_for("static", filename="bah.js") == CDN_URL
        assert url_for("static", filename="bah.js") == CDN_URL


@pytest.mark.parametrize("domain", [None, ""])
async def test_url_for_without_domain_is_quart_url_for(app: Quart, domain: str | None) -> None:
    app.config["CDN_DOMAIN"] = domain
    CDN(app)

    assert await render(app, STATIC_TEMPLATE) == "/static/bah.js"
    async with app.test_request_context("/"):
        assert url_for("static", filename="bah.js") == quart_url_for("static", filename="bah.js")


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"_external": True},
        {"page": "2"},
        {"_anchor": "top"},
        {"_scheme": "https", "_external": True},
    ],
)
async def test_url_for_non_cdn_endpoint_matches_quart(app: Quart, values: dict[str, Any]) -> None:
    configure(app)

    async with app.test_request_context("/"):
        assert url_for("index", **values) == quart_url_for("index", **values)


# -- UrlTests.test_url_for_debug -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("app_debug", "cdn_debug", "expected"),
    [
        (False, True, "/static/bah.js"),
        (True, None, "/static/bah.js"),
        (True, False, CDN_URL),
        (False, None, CDN_URL),
    ],
    ids=["cdn-debug-on", "app-debug-default", "cdn-debug-off-in-app-debug", "both-off"],
)
async def test_url_for_debug_gives_local_url(
    app: Quart, app_debug: bool, cdn_debug: bool | None, expected: str
) -> None:
    app.debug = app_debug
    if cdn_debug is not None:
        app.config["CDN_DEBUG"] = cdn_debug
    configure(app, CDN_TIMESTAMP=False)

    assert await render(app, STATIC_TEMPLATE) == expected


@pytest.mark.parametrize(
    "values", [{}, {"_external": True}, {"_anchor": "top"}, {"_scheme": "https", "_external": True}]
)
async def test_url_for_debug_is_exactly_quart_url_for(app: Quart, values: dict[str, Any]) -> None:
    configure(app, CDN_DEBUG=True)

    async with app.test_request_context("/"):
        expected = quart_url_for("static", filename="bah.js", **values)
        assert url_for("static", filename="bah.js", **values) == expected


# -- UrlTests.test_url_for_https and the `_scheme` test ---------------------------------------


@pytest.mark.parametrize(
    ("cdn_https", "request_scheme", "expected_scheme"),
    [
        (True, "https", "https"),
        (True, "http", "https"),
        (False, "https", "http"),
        (False, "http", "http"),
        (None, "https", "https"),
        (None, "http", "http"),
    ],
)
async def test_url_for_https_follows_cdn_https_then_request(
    app: Quart, cdn_https: bool | None, request_scheme: str, expected_scheme: str
) -> None:
    configure(app, CDN_TIMESTAMP=False, CDN_HTTPS=cdn_https)

    url = await render(app, STATIC_TEMPLATE, scheme=request_scheme)

    assert url == f"{expected_scheme}://{DOMAIN}/static/bah.js"


@pytest.mark.parametrize("cdn_https", [True, False, None])
@pytest.mark.parametrize("request_scheme", ["http", "https"])
@pytest.mark.parametrize(
    ("scheme_argument", "prefix"),
    [("https", "https:"), ("http", "http:"), ("", "")],
    ids=["https", "http", "protocol-relative"],
)
async def test_url_for_scheme_argument_wins(
    app: Quart, cdn_https: bool | None, request_scheme: str, scheme_argument: str, prefix: str
) -> None:
    configure(app, CDN_TIMESTAMP=False, CDN_HTTPS=cdn_https)
    template = f"{{{{ url_for('static', filename='bah.js', _scheme='{scheme_argument}') }}}}"

    url = await render(app, template, scheme=request_scheme)

    assert url == f"{prefix}//{DOMAIN}/static/bah.js"


@pytest.mark.parametrize(
    ("cdn_https", "prefer_secure", "expected_scheme"),
    [
        (None, True, "https"),
        (None, False, "http"),
        (True, False, "https"),
        (False, True, "http"),
    ],
)
async def test_url_for_https_outside_request_follows_prefer_secure_urls(
    app: Quart, cdn_https: bool | None, prefer_secure: bool, expected_scheme: str
) -> None:
    app.config["PREFER_SECURE_URLS"] = prefer_secure
    configure(app, CDN_TIMESTAMP=False, CDN_HTTPS=cdn_https)

    async with app.app_context():
        assert url_for("static", filename="bah.js") == f"{expected_scheme}://{DOMAIN}/static/bah.js"


async def test_url_for_protocol_relative_outside_request(app: Quart) -> None:
    configure(app, CDN_TIMESTAMP=False, CDN_HTTPS=True)

    async with app.app_context():
        assert url_for("static", filename="bah.js", _scheme="") == f"//{DOMAIN}/static/bah.js"


# -- UrlTests.test_url_for_timestamp ------------------------------------------------------------


@pytest.mark.parametrize("timestamp", [True, False])
async def test_url_for_timestamp_appends_mtime(
    app: Quart, static_dir: Path, timestamp: bool
) -> None:
    configure(app, CDN_TIMESTAMP=timestamp)
    mtime = int(os.path.getmtime(static_dir / "bah.js"))

    url = await render(app, STATIC_TEMPLATE)

    assert url == (f"{CDN_URL}?t={mtime}" if timestamp else CDN_URL)
    assert mtime == APP_MTIME


async def test_url_for_timestamp_file_in_subfolder(app: Quart, static_dir: Path) -> None:
    write_file(static_dir / "js" / "app.js", APP_MTIME + 7)
    configure(app)

    async with app.test_request_context("/"):
        url = url_for("static", filename="js/app.js")

    assert url == f"http://{DOMAIN}/static/js/app.js?t={APP_MTIME + 7}"


async def test_url_for_timestamp_missing_file_has_no_t(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    """A missing file gets no ``t``, no exception, and one warning however often it is asked."""
    configure(app)

    with caplog.at_level(logging.WARNING, logger="quart_cdn"):
        async with app.test_request_context("/"):
            first = url_for("static", filename="missing.js")
            second = url_for("static", filename="missing.js")

    assert first == second == f"http://{DOMAIN}/static/missing.js"
    warnings = [
        record
        for record in caplog.records
        if record.name.startswith("quart_cdn")
        and record.levelno == logging.WARNING
        and "missing.js" in record.getMessage()
    ]
    assert len(warnings) == 1


# -- BlueprintTest -------------------------------------------------------------------------------


@pytest.fixture
def blueprint_app(app: Quart, tmp_path: Path) -> Quart:
    """Flask-CDN's ``BlueprintTest`` app, plus a nested blueprint with its own static folder."""
    configure(app, CDN_TIMESTAMP=True)

    bp_folder = tmp_path / "static_bp"
    write_file(bp_folder / "bah_bp.js", BP_MTIME)
    write_file(bp_folder / "bah.js", BP_MTIME)
    child_folder = tmp_path / "static_child"
    write_file(child_folder / "child.js", CHILD_MTIME)

    without_static = Blueprint("test_bp", __name__)

    @without_static.route("/without_static")
    async def a() -> str:
        return await render_template_string(request.args["template"])

    with_static = Blueprint(
        "test2_bp", __name__, static_folder=str(bp_folder), static_url_path="/test2_bp/static"
    )

    @with_static.route("/with_static")
    async def b() -> str:
        return await render_template_string(request.args["template"])

    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint(
        "child", __name__, static_folder=str(child_folder), static_url_path="/child/static"
    )
    parent.register_blueprint(child)

    app.register_blueprint(without_static)
    app.register_blueprint(with_static)
    app.register_blueprint(parent)
    return app


async def test_blueprint_without_static_folder_uses_app_folder(blueprint_app: Quart) -> None:
    url = await render(blueprint_app, STATIC_TEMPLATE, path="/without_static")

    assert url == f"{CDN_URL}?t={APP_MTIME}"


async def test_blueprint_with_static_folder_uses_its_own_folder(blueprint_app: Quart) -> None:
    template = "{{ url_for('test2_bp.static', filename='bah_bp.js') }}"

    url = await render(blueprint_app, template, path="/with_static")

    assert url == f"http://{DOMAIN}/test2_bp/static/bah_bp.js?t={BP_MTIME}"


async def test_blueprint_view_static_endpoint_uses_app_folder(blueprint_app: Quart) -> None:
    """``static`` is the app's folder even in a view of a blueprint with a folder of its own.

    Flask-CDN-NG read the blueprint's folder here; the contract ties the folder to the endpoint.
    """
    url = await render(blueprint_app, STATIC_TEMPLATE, path="/with_static")

    assert url == f"{CDN_URL}?t={APP_MTIME}"


async def test_blueprint_nested_static_uses_its_own_folder(blueprint_app: Quart) -> None:
    async with blueprint_app.test_request_context("/"):
        url = url_for("parent.child.static", filename="child.js")
        local = quart_url_for("parent.child.static", filename="child.js")

    assert local == "/parent/child/static/child.js"
    assert url == f"http://{DOMAIN}{local}?t={CHILD_MTIME}"


# -- CDN_ENDPOINTS --------------------------------------------------------------------------------


@pytest.fixture
def files_app(app: Quart) -> Quart:
    """An app with a ``files`` endpoint, also inside a blueprint, and no static folder behind it."""

    @app.route("/files/<path:filename>")
    async def files(filename: str) -> str:
        return filename

    downloads = Blueprint("downloads", __name__)

    @downloads.route("/dl/<path:filename>", endpoint="files")
    async def files_in_blueprint(filename: str) -> str:
        return filename

    app.register_blueprint(downloads)
    return app


async def test_endpoints_default_leaves_other_endpoints_alone(files_app: Quart) -> None:
    configure(files_app)

    async with files_app.test_request_context("/"):
        assert url_for("files", filename="a.txt") == "/files/a.txt"
        assert url_for("static", filename="bah.js") == f"{CDN_URL}?t={APP_MTIME}"


async def test_endpoints_listed_endpoint_served_from_cdn(files_app: Quart) -> None:
    """A listed endpoint goes to the CDN (no ``t``: it has no static folder), in blueprints too."""
    configure(files_app, CDN_ENDPOINTS=["static", "files"])

    async with files_app.test_request_context("/"):
        assert url_for("files", filename="a.txt") == f"http://{DOMAIN}/files/a.txt"
        assert url_for("downloads.files", filename="b.txt") == f"http://{DOMAIN}/dl/b.txt"
        assert url_for("static", filename="bah.js") == f"{CDN_URL}?t={APP_MTIME}"


async def test_endpoints_without_static_serves_static_locally(files_app: Quart) -> None:
    configure(files_app, CDN_ENDPOINTS=["files"])

    async with files_app.test_request_context("/"):
        assert url_for("static", filename="bah.js") == "/static/bah.js"
        assert url_for("files", filename="a.txt") == f"http://{DOMAIN}/files/a.txt"


# -- Flask-CDN-NG: the checksum manifest -----------------------------------------------------------


@pytest.fixture(params=["path", "file-url", "http"])
def publish_manifest(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[bytes], str]:
    """Return a function that publishes a manifest body and gives its ``CDN_MANIFEST_URL``."""
    kind: str = request.param
    server: ManifestServer | None = (
        request.getfixturevalue("manifest_server") if kind == "http" else None
    )

    def publish(body: bytes) -> str:
        if server is not None:
            server.set("/static/MANIFEST", body)
            return server.url("/static/MANIFEST")
        path = tmp_path / "MANIFEST"
        path.write_bytes(body)
        return path.as_uri() if kind == "file-url" else str(path)

    return publish


@pytest.mark.parametrize(
    ("filename", "checksum"),
    [("js/script.js", SCRIPT_CHECKSUM), ("css/style.css", STYLE_CHECKSUM)],
)
async def test_manifest_checksum_appended_after_startup(
    app: Quart, publish_manifest: Callable[[bytes], str], filename: str, checksum: str
) -> None:
    configure(
        app, CDN_MANIFEST=True, CDN_TIMESTAMP=False, CDN_MANIFEST_URL=publish_manifest(MANIFEST)
    )

    async with app.test_app(), app.test_request_context("/"):
        url = url_for("static", filename=filename)

    assert url == f"http://{DOMAIN}/static/{filename}?c={checksum}"


async def test_manifest_checksum_in_template(app: Quart, tmp_path: Path) -> None:
    manifest = tmp_path / "MANIFEST"
    manifest.write_bytes(MANIFEST)
    configure(app, CDN_MANIFEST=True, CDN_TIMESTAMP=False, CDN_MANIFEST_URL=str(manifest))
    template = "{{ url_for('static', filename='js/script.js') }}"

    async with app.test_app():
        url = await render(app, template)

    assert url == f"http://{DOMAIN}/static/js/script.js?c={SCRIPT_CHECKSUM}"


async def test_manifest_takes_precedence_over_timestamp(app: Quart, tmp_path: Path) -> None:
    manifest = tmp_path / "MANIFEST"
    manifest.write_bytes(MANIFEST)
    configure(app, CDN_MANIFEST=True, CDN_TIMESTAMP=True, CDN_MANIFEST_URL=str(manifest))

    async with app.test_app(), app.test_request_context("/"):
        assert url_for("static", filename="bah.js") == f"{CDN_URL}?c={BAH_CHECKSUM}"


async def test_manifest_loaded_by_refresh_in_app_context(app: Quart, tmp_path: Path) -> None:
    """Without starting the app, ``await cdn.refresh()`` loads the manifest."""
    manifest = tmp_path / "MANIFEST"
    manifest.write_bytes(MANIFEST)
    cdn = configure(app, CDN_MANIFEST=True, CDN_TIMESTAMP=False, CDN_MANIFEST_URL=str(manifest))

    async with app.app_context():
        await cdn.refresh()
    async with app.test_request_context("/"):
        url = url_for("static", filename="js/script.js")

    assert url == f"http://{DOMAIN}/static/js/script.js?c={SCRIPT_CHECKSUM}"


async def test_manifest_http_downloaded_from_manifest_url(
    app: Quart, manifest_server: ManifestServer
) -> None:
    manifest_server.set("/static/MANIFEST", MANIFEST)
    configure(
        app,
        CDN_MANIFEST=True,
        CDN_TIMESTAMP=False,
        CDN_MANIFEST_URL=manifest_server.url("/static/MANIFEST"),
    )

    async with app.test_app(), app.test_request_context("/"):
        url = url_for("static", filename="js/script.js")

    assert url == f"http://{DOMAIN}/static/js/script.js?c={SCRIPT_CHECKSUM}"
    assert "/static/MANIFEST" in [r.path for r in manifest_server.requests]


@pytest.mark.parametrize("error", [ManifestError, CDNManifestUrlError])
async def test_manifest_url_404_raises_manifest_error(
    app: Quart, manifest_server: ManifestServer, error: type[Exception]
) -> None:
    manifest_server.set("/hokus/pokus/fokus", b"not here\n", status=404)
    source = manifest_server.url("/hokus/pokus/fokus")
    cdn = configure(app, CDN_MANIFEST=True, CDN_TIMESTAMP=False, CDN_MANIFEST_URL=source)

    async with app.app_context():
        with pytest.raises(error, match=r"\b404\b") as excinfo:
            await cdn.refresh()

    assert source in str(excinfo.value)


@pytest.mark.parametrize("error", [NotInManifestError, CDNFileNotFoundInManifest])
async def test_manifest_strict_missing_file_raises(
    app: Quart, tmp_path: Path, error: type[Exception]
) -> None:
    manifest = tmp_path / "MANIFEST"
    manifest.write_bytes(MANIFEST)
    configure(app, CDN_MANIFEST=True, CDN_TIMESTAMP=False, CDN_MANIFEST_URL=str(manifest))

    async with app.test_app(), app.test_request_context("/"):
        with pytest.raises(error, match=r"nesmyslna/cesta\.txt not found in manifest"):
            url_for("static", filename="nesmyslna/cesta.txt")


# -- Compatibility names ------------------------------------------------------------------------


def test_compat_manifest_url_error_is_manifest_error() -> None:
    assert CDNManifestUrlError is ManifestError


def test_compat_file_not_found_in_manifest_is_not_in_manifest_error() -> None:
    assert CDNFileNotFoundInManifest is NotInManifestError
