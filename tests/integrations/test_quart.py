"""The Quart extension: the contract's Quart section beyond what Flask-CDN's port covers.

Per-app state, configuration checks, URL shape (query, anchor, host, ``CDN_DOMAIN`` forms),
mapping and Vite manifests, blueprint endpoints in a checksum manifest, strict and lenient
manifest modes, startup, and ``cdn.refresh()`` / ``cdn.manifest``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from _server import ManifestServer
from quart import Blueprint, Quart
from quart.testing.app import LifespanError

from quart_cdn import CDN, ManifestError, NotInManifestError, url_for

DOMAIN = "cdn.example.com"
CDN_URL = f"http://{DOMAIN}/static/bah.js"
MTIME = 1_700_000_000

APP_CHECKSUM = "5d41402abc4b2a76b9719d911017c592"
ADMIN_CHECKSUM = "0123abcd4567ef89"
CHILD_CHECKSUM = "fedcba9876543210aa"
CHECKSUMS = f"""{APP_CHECKSUM}  static/js/app.js
{ADMIN_CHECKSUM}  admin/static/x.js
{CHILD_CHECKSUM}  parent/child/static/y.js
""".encode()
OTHER_CHECKSUMS = b"99999999aaaaaaaa  static/js/app.js\n"


def write_file(path: Path, body: bytes = b"// asset\n", *, mtime: int = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    os.utime(path, (mtime, mtime))
    return path


def make_app(static_dir: Path) -> Quart:
    app = Quart(__name__, static_folder=str(static_dir))
    app.config["TESTING"] = True
    return app


def configure(app: Quart, **config: Any) -> CDN:
    """Set ``CDN_DOMAIN`` plus ``config`` on ``app``, then initialise the extension on it."""
    app.config["CDN_DOMAIN"] = DOMAIN
    app.config.update(config)
    return CDN(app)


def manifest_config(manifest: Path, **config: Any) -> dict[str, Any]:
    return {"CDN_MANIFEST": True, "CDN_MANIFEST_URL": str(manifest), **config}


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("quart_cdn")
        and record.levelno == logging.WARNING
        and text in record.getMessage()
    ]


async def start_with_cdn(app: Quart) -> None:
    """Initialise the extension and run the app's startup (where late checks happen)."""
    CDN(app)
    await app.startup()


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    write_file(folder / "bah.js")
    write_file(folder / "js" / "app.js")
    return folder


@pytest.fixture
def app(static_dir: Path) -> Quart:
    return make_app(static_dir)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """A checksum manifest on disk (the default content of most manifest tests)."""
    return write_file(tmp_path / "MANIFEST", CHECKSUMS)


# -- Registration and per-app state -----------------------------------------------------------


@pytest.mark.parametrize("style", ["constructor", "init_app"])
def test_cdn_registers_in_app_extensions(app: Quart, style: str) -> None:
    app.config["CDN_DOMAIN"] = DOMAIN
    if style == "constructor":
        cdn = CDN(app)
    else:
        cdn = CDN()
        cdn.init_app(app)

    assert app.extensions["cdn"] is cdn


async def test_cdn_one_object_keeps_state_per_app(tmp_path: Path) -> None:
    """One ``CDN()`` on two apps: each app's URLs use that app's ``CDN_DOMAIN``."""
    cdn = CDN()
    first = make_app(tmp_path / "static")
    first.config.update(CDN_DOMAIN="first.cdn.example", CDN_TIMESTAMP=False)
    second = make_app(tmp_path / "static")
    second.config.update(CDN_DOMAIN="second.cdn.example", CDN_TIMESTAMP=False)
    cdn.init_app(first)
    cdn.init_app(second)

    async with first.test_request_context("/"):
        first_url = url_for("static", filename="bah.js")
    async with second.test_request_context("/"):
        second_url = url_for("static", filename="bah.js")

    assert first_url == "http://first.cdn.example/static/bah.js"
    assert second_url == "http://second.cdn.example/static/bah.js"
    assert first.extensions["cdn"] is cdn
    assert second.extensions["cdn"] is cdn


async def test_init_app_again_picks_up_new_config(app: Quart) -> None:
    cdn = configure(app, CDN_TIMESTAMP=False)
    async with app.test_request_context("/"):
        before = url_for("static", filename="bah.js")

    app.config.update(CDN_DOMAIN="other.cdn.example", CDN_HTTPS=True, CDN_TIMESTAMP=True)
    cdn.init_app(app)
    async with app.test_request_context("/"):
        after = url_for("static", filename="bah.js")

    assert before == CDN_URL
    assert after == f"https://other.cdn.example/static/bah.js?t={MTIME}"


# -- Configuration checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain", ["https://cdn.example.com", "http://cdn.example.com", "ftp://cdn.example.com/x"]
)
async def test_config_domain_with_scheme_raises_value_error(app: Quart, domain: str) -> None:
    app.config["CDN_DOMAIN"] = domain

    with pytest.raises(ValueError, match="CDN_DOMAIN"):
        await start_with_cdn(app)


async def test_config_manifest_without_url_raises_value_error(app: Quart) -> None:
    app.config.update(CDN_DOMAIN=DOMAIN, CDN_MANIFEST=True)

    with pytest.raises(ValueError, match="CDN_MANIFEST_URL"):
        await start_with_cdn(app)


@pytest.mark.parametrize("refresh", [-1, -0.5, 0.01, 0.5])
async def test_config_negative_refresh_raises_value_error(
    app: Quart, manifest: Path, refresh: float
) -> None:
    app.config.update(CDN_DOMAIN=DOMAIN, **manifest_config(manifest, CDN_MANIFEST_REFRESH=refresh))

    with pytest.raises(ValueError, match="CDN_MANIFEST_REFRESH"):
        await start_with_cdn(app)


@pytest.mark.parametrize("timeout", ["ten", "", [10]])
async def test_config_non_numeric_timeout_raises_value_error(
    app: Quart, manifest: Path, timeout: object
) -> None:
    app.config.update(CDN_DOMAIN=DOMAIN, **manifest_config(manifest, CDN_MANIFEST_TIMEOUT=timeout))

    with pytest.raises(ValueError, match="CDN_MANIFEST_TIMEOUT"):
        await start_with_cdn(app)


# -- URL shape -----------------------------------------------------------------------------------


async def test_url_for_bare_app_context_needs_no_server_name(app: Quart) -> None:
    """An email or a background job can build a CDN URL with no request and no SERVER_NAME."""
    configure(app)
    assert app.config["SERVER_NAME"] is None

    async with app.app_context():
        assert url_for("static", filename="bah.js") == f"{CDN_URL}?t={MTIME}"


async def test_url_for_extra_values_kept_with_version(app: Quart) -> None:
    configure(app)

    async with app.test_request_context("/"):
        url = url_for("static", filename="bah.js", v="2", lang="en")

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", DOMAIN, "/static/bah.js")
    assert sorted(parse_qsl(parts.query)) == [("lang", "en"), ("t", str(MTIME)), ("v", "2")]


async def test_url_for_anchor_kept(app: Quart) -> None:
    configure(app)

    async with app.test_request_context("/"):
        url = url_for("static", filename="bah.js", _anchor="top")

    assert url == f"{CDN_URL}?t={MTIME}#top"


async def test_url_for_external_false_still_absolute(app: Quart) -> None:
    configure(app, CDN_TIMESTAMP=False)

    async with app.test_request_context("/"):
        assert url_for("static", filename="bah.js", _external=False) == CDN_URL


@pytest.mark.parametrize(
    "filename", ["//evil.com/x.js", "https://evil.com/x", "///evil.com/x.js", "\\\\evil.com/x.js"]
)
@pytest.mark.parametrize("scheme", [None, ""], ids=["default-scheme", "protocol-relative"])
async def test_url_for_host_is_always_cdn(app: Quart, filename: str, scheme: str | None) -> None:
    configure(app, CDN_TIMESTAMP=False)
    values: dict[str, Any] = {} if scheme is None else {"_scheme": scheme}

    async with app.test_request_context("/"):
        url = url_for("static", filename=filename, **values)

    assert urlsplit(url).netloc == DOMAIN
    assert url.startswith(f"{'http:' if scheme is None else ''}//{DOMAIN}/static/")


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("cdn.example.com/", "http://cdn.example.com/static/bah.js"),
        ("cdn.example.com:8443", "http://cdn.example.com:8443/static/bah.js"),
        ("cdn.example.com/assets", "http://cdn.example.com/assets/static/bah.js"),
        ("cdn.example.com/assets/", "http://cdn.example.com/assets/static/bah.js"),
        ("cdn.example.com:8443/a/b/", "http://cdn.example.com:8443/a/b/static/bah.js"),
    ],
)
async def test_url_for_domain_port_and_prefix(app: Quart, domain: str, expected: str) -> None:
    app.config.update(CDN_DOMAIN=domain, CDN_TIMESTAMP=False)
    CDN(app)

    async with app.test_request_context("/"):
        assert url_for("static", filename="bah.js") == expected


# -- Mapping and Vite manifests ---------------------------------------------------------------


@pytest.mark.parametrize(
    "mapping",
    [
        {"js/app.js": "js/app.7bfe0aac.js"},
        {"static/js/app.js": "static/js/app.7bfe0aac.js"},
        {"static/js/app.js": "js/app.7bfe0aac.js"},
    ],
    ids=["filenames", "url-paths", "url-path-key"],
)
async def test_manifest_mapping_replaces_filename(
    app: Quart, tmp_path: Path, mapping: dict[str, str]
) -> None:
    """The hashed name replaces the file name, and no ``t`` is added (the manifest wins)."""
    manifest = write_file(tmp_path / "manifest.json", json.dumps(mapping).encode())
    configure(app, **manifest_config(manifest))

    async with app.test_app(), app.test_request_context("/"):
        url = url_for("static", filename="js/app.js")

    assert url == f"http://{DOMAIN}/static/js/app.7bfe0aac.js"


async def test_manifest_mapping_strict_missing_file_raises(app: Quart, tmp_path: Path) -> None:
    body = json.dumps({"js/app.js": "js/app.7bfe0aac.js"}).encode()
    manifest = write_file(tmp_path / "manifest.json", body)
    configure(app, **manifest_config(manifest))

    async with app.test_app(), app.test_request_context("/"):
        with pytest.raises(NotInManifestError, match=r"js/other\.js not found in manifest"):
            url_for("static", filename="js/other.js")


async def test_manifest_vite_gives_built_file(app: Quart, tmp_path: Path) -> None:
    vite = {
        "src/main.js": {
            "file": "assets/main.4889e940.js",
            "src": "src/main.js",
            "isEntry": True,
            "css": ["assets/main.b82dbe22.css"],
        }
    }
    manifest = write_file(tmp_path / "manifest.json", json.dumps(vite).encode())
    configure(app, **manifest_config(manifest))

    async with app.test_app(), app.test_request_context("/"):
        url = url_for("static", filename="src/main.js")

    assert url == f"http://{DOMAIN}/static/assets/main.4889e940.js"


async def test_manifest_checksum_versions_blueprint_static(
    app: Quart, tmp_path: Path, manifest: Path
) -> None:
    """Checksum keys are URL paths, so blueprint static endpoints are looked up by theirs."""
    admin = Blueprint(
        "admin", __name__, static_folder=str(tmp_path / "admin"), static_url_path="/admin/static"
    )
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint(
        "child", __name__, static_folder=str(tmp_path / "child"), static_url_path="/child/static"
    )
    parent.register_blueprint(child)
    app.register_blueprint(admin)
    app.register_blueprint(parent)
    configure(app, **manifest_config(manifest))

    async with app.test_app(), app.test_request_context("/"):
        admin_url = url_for("admin.static", filename="x.js")
        child_url = url_for("parent.child.static", filename="y.js")
        app_url = url_for("static", filename="js/app.js")

    assert admin_url == f"http://{DOMAIN}/admin/static/x.js?c={ADMIN_CHECKSUM}"
    assert child_url == f"http://{DOMAIN}/parent/child/static/y.js?c={CHILD_CHECKSUM}"
    assert app_url == f"http://{DOMAIN}/static/js/app.js?c={APP_CHECKSUM}"


# -- Strict and lenient manifests ---------------------------------------------------------------


async def test_manifest_strict_url_before_load_raises(app: Quart, manifest: Path) -> None:
    configure(app, **manifest_config(manifest))

    async with app.test_request_context("/"):
        with pytest.raises(ManifestError, match=r"(?i)manifest"):
            url_for("static", filename="js/app.js")


async def test_manifest_lenient_url_before_load_falls_back_to_timestamp(
    app: Quart, manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configure(app, **manifest_config(manifest, CDN_MANIFEST_STRICT=False))

    with caplog.at_level(logging.WARNING, logger="quart_cdn"):
        async with app.test_request_context("/"):
            url = url_for("static", filename="bah.js")

    assert url == f"{CDN_URL}?t={MTIME}"
    assert any(
        record.name.startswith("quart_cdn") and record.levelno == logging.WARNING
        for record in caplog.records
    )


async def test_manifest_lenient_missing_file_warns_once_per_file(
    app: Quart, manifest: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configure(app, **manifest_config(manifest, CDN_MANIFEST_STRICT=False))

    with caplog.at_level(logging.WARNING, logger="quart_cdn"):
        async with app.test_app(), app.test_request_context("/"):
            urls = [url_for("static", filename="bah.js") for _ in range(3)]
            no_file = url_for("static", filename="gone.js")
            url_for("static", filename="gone.js")

    assert urls == [f"{CDN_URL}?t={MTIME}"] * 3
    assert no_file == f"http://{DOMAIN}/static/gone.js"
    assert len(warnings_about(caplog, "bah.js")) == 1
    assert len(warnings_about(caplog, "gone.js")) >= 1


async def test_manifest_strict_startup_failure_raises(app: Quart, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-manifest.txt"
    configure(app, **manifest_config(missing))

    with pytest.raises(ManifestError, match="no-such-manifest"):
        await app.startup()


async def test_manifest_strict_startup_failure_fails_test_app(
    app: Quart, manifest_server: ManifestServer
) -> None:
    """Through Quart's lifespan harness; its ``TestApp`` re-raises the error's message only."""
    manifest_server.set("/missing.json", b"nope\n", status=404)
    configure(app, CDN_MANIFEST=True, CDN_MANIFEST_URL=manifest_server.url("/missing.json"))

    with pytest.raises((ManifestError, LifespanError), match=r"\b404\b"):
        async with app.test_app():
            pass


async def test_manifest_lenient_startup_failure_does_not_raise(app: Quart, tmp_path: Path) -> None:
    """The app starts, URLs fall back to the timestamp rule, and shutdown stops the retries."""
    configure(app, **manifest_config(tmp_path / "absent.txt", CDN_MANIFEST_STRICT=False))

    async with app.test_app(), app.test_request_context("/"):
        url = url_for("static", filename="bah.js")

    assert url == f"{CDN_URL}?t={MTIME}"


# -- cdn.refresh() and cdn.manifest ------------------------------------------------------------


async def test_refresh_returns_manifest_in_force(app: Quart, manifest: Path) -> None:
    cdn = configure(app, **manifest_config(manifest))

    async with app.app_context():
        assert cdn.manifest is None
        loaded = await cdn.refresh()
        assert cdn.manifest is loaded

    assert loaded is not None
    async with app.test_request_context("/"):
        assert url_for("static", filename="js/app.js").endswith(f"?c={APP_CHECKSUM}")


async def test_refresh_swaps_in_new_manifest(app: Quart, manifest: Path) -> None:
    cdn = configure(app, **manifest_config(manifest))

    async with app.app_context():
        first = await cdn.refresh()
        manifest.write_bytes(OTHER_CHECKSUMS)
        second = await cdn.refresh()
        assert cdn.manifest is second
    assert second is not first

    async with app.test_request_context("/"):
        assert url_for("static", filename="js/app.js").endswith("?c=99999999aaaaaaaa")


@pytest.mark.parametrize("breakage", ["deleted", "garbage", "empty"])
async def test_refresh_failure_keeps_previous_manifest(
    app: Quart, manifest: Path, breakage: str
) -> None:
    cdn = configure(app, **manifest_config(manifest))
    async with app.app_context():
        loaded = await cdn.refresh()

    if breakage == "deleted":
        manifest.unlink()
    else:
        manifest.write_bytes(b"this is not a manifest\n" if breakage == "garbage" else b"")

    async with app.app_context():
        with pytest.raises(ManifestError, match="MANIFEST"):
            await cdn.refresh()
        assert cdn.manifest is loaded
    async with app.test_request_context("/"):
        assert url_for("static", filename="js/app.js").endswith(f"?c={APP_CHECKSUM}")


async def test_refresh_http_404_keeps_previous_manifest(
    app: Quart, manifest_server: ManifestServer
) -> None:
    manifest_server.set("/MANIFEST", CHECKSUMS)
    source = manifest_server.url("/MANIFEST")
    cdn = configure(app, CDN_MANIFEST=True, CDN_MANIFEST_URL=source)

    async with app.app_context():
        loaded = await cdn.refresh()
        manifest_server.set("/MANIFEST", b"gone\n", status=404)
        with pytest.raises(ManifestError, match=r"\b404\b") as excinfo:
            await cdn.refresh()
        assert cdn.manifest is loaded

    assert source in str(excinfo.value)
