"""The single-page-app deployment of ``examples/spa``, end to end.

``build.py`` publishes a release into ``tmp_path``; the example's own Quart app serves deep
links with the current hashed URLs, picks up the next release through its manifest refresh
task, and keeps serving the previous release's files.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SPA = Path(__file__).resolve().parents[2] / "examples" / "spa"
DOMAIN = "cdn.example.com"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import ``examples/spa/<name>.py`` (the examples are not a package)."""
    spec = importlib.util.spec_from_file_location(f"spa_example_{name}", SPA / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of the example's front-end sources, to edit between releases."""
    return Path(shutil.copytree(SPA / "frontend", tmp_path / "frontend"))


def test_spa_build_publishes_hashed_files_and_manifest(source: Path, tmp_path: Path) -> None:
    public = tmp_path / "public"
    command = [sys.executable, str(SPA / "build.py"), "--source", str(source)]
    subprocess.run([*command, "--public", str(public)], check=True, capture_output=True)
    m1 = json.loads((public / "manifest.json").read_text())
    (source / "js" / "app.js").write_text("console.log('v2');\n")
    subprocess.run([*command, "--public", str(public)], check=True, capture_output=True)
    m2 = json.loads((public / "manifest.json").read_text())

    # Vite's shape: the entry, its file and the CSS it needs.
    assert set(m1) == set(m2) == {"js/app.js"}
    assert m1["js/app.js"]["isEntry"] is True and m1["js/app.js"]["src"] == "js/app.js"
    v1, v2 = (
        {"js/app.js": m["js/app.js"]["file"], "css/app.css": m["js/app.js"]["css"][0]}
        for m in (m1, m2)
    )
    assert re.fullmatch(r"css/app\.[0-9a-f]{8}\.css", v1["css/app.css"])
    assert re.fullmatch(r"js/app\.[0-9a-f]{8}\.js", v1["js/app.js"])
    assert v2["css/app.css"] == v1["css/app.css"]
    assert v2["js/app.js"] != v1["js/app.js"]
    published = sorted(p.relative_to(public).as_posix() for p in public.rglob("*") if p.is_file())
    assert published == sorted(
        ["manifest.json", v1["css/app.css"], v1["js/app.js"], v2["js/app.js"]]
    )  # old files kept, no temporary files left, the template not published
    assert (public / v2["js/app.js"]).read_text() == "console.log('v2');\n"


async def test_spa_deep_links_follow_each_published_release(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = tmp_path / "public"
    build = load("build", monkeypatch)
    v1 = build.build(source, public)
    monkeypatch.setenv("SPA_PUBLIC_DIR", str(public))
    monkeypatch.setenv("CDN_DOMAIN", DOMAIN)
    monkeypatch.setenv("CDN_MANIFEST_REFRESH", "1")
    monkeypatch.delenv("CDN_MANIFEST_URL", raising=False)
    app = load("app", monkeypatch).create_app()
    cdn = app.extensions["cdn"]
    refresher = app.extensions["quart_cdn.state"].core.refresher

    async with app.test_app() as test_app:
        client = test_app.test_client()
        response1 = await client.get("/some/deep/link")
        page1, link1 = await response1.get_data(as_text=True), response1.headers["Link"]
        home = await client.get("/")
        api = await client.get("/api/hello")
        api_missing = await client.get("/api/nope")

        (source / "css" / "app.css").write_text("body { color: rebeccapurple; }\n")
        first = cdn.manifest
        v2 = build.build(source, public)
        refresher.refresh_now()
        for _ in range(500):  # bounded: at most about 5 s
            if cdn.manifest is not first:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the refresh task did not pick up the new manifest")
        page2 = await (await client.get("/another/route")).get_data(as_text=True)
        old_css = await client.get(f"/static/{v1['css/app.css']}")
        new_css = await client.get(f"/static/{v2['css/app.css']}")
        assert refresher.task is not None
    assert refresher.task is None

    for page, release in ((page1, v1), (page2, v2)):
        css, js = (
            f"http://{DOMAIN}/static/{release[name]}" for name in ("css/app.css", "js/app.js")
        )
        assert f'<link rel="stylesheet" href="{css}">' in page
        assert f'<script type="module" src="{js}"></script>' in page
        assert page.index(css) < page.index(js)  # CSS first
    assert f"<http://{DOMAIN}/static/{v1['css/app.css']}>; rel=preload; as=style" in link1
    assert v1["css/app.css"] != v2["css/app.css"]
    assert home.status_code == 200
    assert await api.get_json() == {"message": "Hello from the API"}
    assert api_missing.status_code == 404
    assert "body" in await old_css.get_data(as_text=True)
    assert await new_css.get_data(as_text=True) == "body { color: rebeccapurple; }\n"
    assert old_css.status_code == new_css.status_code == 200
