"""The URL cache (quart_cdn._cache): snapshots bounded by bytes, the budget, the cache key."""

from __future__ import annotations

import sys

import pytest

from quart_cdn import Manifest
from quart_cdn._cache import (
    ENTRY_BYTES,
    MAX_CACHE_BYTES,
    MAX_VIEWS,
    Budget,
    Snapshot,
    cache_key,
    estimate,
    values_key,
)

MANIFEST = Manifest({"js/app.js": "js/app.1.js"}, kind="mapping", source="test")


def _cached_bytes(snapshot: Snapshot) -> int:
    """What the snapshot holds, estimated entry by entry as the budget charges it."""
    entries = [*snapshot.cache.items()]
    for view in snapshot.views.values():
        entries.extend(view.items())
    return sum(ENTRY_BYTES + estimate(key) + estimate(url) for key, url in entries)


def test_estimate_counts_strings_and_tuples() -> None:
    name = "x" * 4_000
    assert estimate(name) == sys.getsizeof(name) >= 4_000
    assert estimate("é" * 1_000) > estimate("e" * 1_000)  # stored wider
    key = ("static", name, "https", "")
    assert estimate(key) == sys.getsizeof(key) + sum(map(sys.getsizeof, key))
    nested = ("static", (("v", int, 1),))
    assert estimate(nested) > estimate(("static",))
    assert estimate(12) == estimate(None) == 32


def test_budget_takes_until_spent_and_never_overdraws() -> None:
    budget = Budget(1_000)
    assert budget.take("a" * 100)
    used = budget.used
    assert used == ENTRY_BYTES + sys.getsizeof("a" * 100)
    assert not budget.take("b" * 2_000)  # too big: refused, nothing charged
    assert budget.used == used
    assert budget.take("a" * 100)  # a smaller one still fits
    while budget.take("c"):
        pass
    assert budget.used <= budget.limit
    assert not budget.take("")


def test_budget_default_is_sixteen_mebibytes() -> None:
    assert Budget().limit == MAX_CACHE_BYTES == 16 * 1024 * 1024


def test_snapshot_store_keeps_urls() -> None:
    snapshot = Snapshot(MANIFEST)
    snapshot.store(("static", "js/app.js", "https", ""), "https://cdn/static/js/app.1.js")
    view = snapshot.view("https", "")
    snapshot.store(("static", "js/app.js"), "https://cdn/static/js/app.1.js", view)
    assert snapshot.cache == {
        ("static", "js/app.js", "https", ""): "https://cdn/static/js/app.1.js"
    }
    assert snapshot.views == {
        ("https", ""): {("static", "js/app.js"): "https://cdn/static/js/app.1.js"}
    }
    assert snapshot.manifest is MANIFEST


def test_snapshot_hostile_names_bounded_by_bytes() -> None:
    """50,000 distinct 4,000-character names: the cache stops at its budget (16 MiB), and the
    names stored first stay."""
    snapshot = Snapshot(None)
    view = snapshot.view("https", "")
    for n in range(50_000):
        name = f"{n:05d}" + "x" * 3_995
        url = f"https://cdn.example.com/static/{name}?t=1"
        snapshot.store(("static", name), url, view)
    assert _cached_bytes(snapshot) <= MAX_CACHE_BYTES  # it was 50,000 entries, 400 MB
    assert _cached_bytes(snapshot) < snapshot.budget.used <= MAX_CACHE_BYTES
    assert 1_000 < len(view) < 3_000  # about 8 KB an entry
    assert ("static", "00000" + "x" * 3_995) in view


def test_snapshot_budget_is_shared_by_cache_and_views() -> None:
    snapshot = Snapshot(None, max_bytes=10_000)
    view = snapshot.view("https", "")
    for n in range(100):
        snapshot.store(("static", f"{n}.js", "http", ""), f"http://cdn/static/{n}.js")
        snapshot.store(("static", f"{n}.js"), f"https://cdn/static/{n}.js", view)
    assert snapshot.budget.used <= 10_000
    assert 0 < len(snapshot.cache) + len(view) < 100


def test_snapshot_views_capped_in_number_and_bytes() -> None:
    snapshot = Snapshot(None)
    for n in range(MAX_VIEWS + 50):
        view = snapshot.view("https", f"/root{n}")
        assert view == {}
    assert len(snapshot.views) == MAX_VIEWS
    past = snapshot.view("https", "/another")
    snapshot.store(("static", "a.js"), "https://cdn/a.js", past)
    assert ("https", "/another") not in snapshot.views

    tiny = Snapshot(None, max_bytes=ENTRY_BYTES)
    tiny.view("https", "/" + "r" * 10_000)  # a hostile root path does not fit
    assert tiny.views == {}


def test_snapshot_full_stops_adding_without_error() -> None:
    snapshot = Snapshot(None, max_bytes=0)
    snapshot.store(("static", "a.js"), "https://cdn/a.js")
    assert snapshot.cache == {}


# -- the cache key --------------------------------------------------------------------------


def test_cache_key_short_form_for_a_str_filename() -> None:
    assert cache_key("static", {"filename": "a.js"}, "filename", "https", "") == (
        "static",
        "a.js",
        "https",
        "",
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"filename": "a.js", "x": 0}, {"filename": "a.js", "x": False}),
        ({"filename": 1}, {"filename": True}),
    ],
)
def test_cache_key_keeps_equal_values_of_other_types_apart(
    one: dict[str, object], other: dict[str, object]
) -> None:
    assert cache_key("static", one, "filename") != cache_key("static", other, "filename")


def test_cache_key_container_values_are_not_cached() -> None:
    assert cache_key("static", {"filename": "a.js", "v": [1]}, "filename") is None
    assert values_key({"v": (1, 2)}) is None
    assert values_key({"b": 1, "a": "x"}) == (("a", str, "x"), ("b", int, 1))


def test_values_key_tells_equal_values_of_other_types_apart() -> None:
    assert values_key({"x": 0}) != values_key({"x": False})
    assert values_key({"x": 1}) != values_key({"x": 1.0})
    assert values_key({"b": "2", "a": None}) == values_key({"a": None, "b": "2"})
    assert values_key({"x": (0,)}) is None  # a container could hide such a pair
