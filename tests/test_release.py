"""Replaced manifests are freed a slice at a time (quart_cdn._release), and only once
nothing else holds them."""

from __future__ import annotations

import asyncio

import anyio

from quart_cdn import Manifest
from quart_cdn._release import Releaser


def _manifest(entries: int = 20_000) -> Manifest:
    return Manifest({f"js/f{i}.js": f"js/f{i}.{i:08x}.js" for i in range(entries)}, kind="mapping")


async def _until_empty(container: dict[str, str], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while container:
            await asyncio.sleep(0.005)


async def test_release_empties_a_manifest_nothing_else_holds() -> None:
    releaser = Releaser(poll=0.01)
    manifest = _manifest()
    entries = manifest._entries  # the test watches the dict, not the manifest
    releaser.retire(manifest)
    del manifest
    await _until_empty(entries)
    await releaser.aclose()


async def test_release_waits_while_something_holds_the_manifest() -> None:
    """A request still rendering with the old manifest (here: this name) keeps it whole."""
    releaser = Releaser(poll=0.01)
    manifest = _manifest()
    releaser.retire(manifest)
    await asyncio.sleep(0.1)
    assert len(manifest) == 20_000 and manifest["js/f7.js"] == "js/f7.00000007.js"
    entries = manifest._entries
    del manifest
    await _until_empty(entries)
    await releaser.aclose()


async def test_release_gives_up_after_its_patience() -> None:
    releaser = Releaser(poll=0.01, patience=0.05)
    manifest = _manifest(100)
    releaser.retire(manifest)
    await asyncio.sleep(0.2)
    assert not releaser._tasks  # gave up; the manifest is freed the ordinary way later
    assert len(manifest) == 100


async def test_release_aclose_cancels_the_releases_under_way() -> None:
    releaser = Releaser(poll=10)
    manifest = _manifest(100)
    releaser.retire(manifest)
    await asyncio.sleep(0)
    await releaser.aclose()
    assert not releaser._tasks and len(manifest) == 100
