"""The URL cache (quart_cdn._cache): snapshots and the cache key."""

from __future__ import annotations

from quart_cdn._cache import values_key


def test_values_key_tells_equal_values_of_other_types_apart() -> None:
    assert values_key({"x": 0}) != values_key({"x": False})
    assert values_key({"x": 1}) != values_key({"x": 1.0})
    assert values_key({"b": "2", "a": None}) == values_key({"a": None, "b": "2"})
    assert values_key({"x": (0,)}) is None  # a container could hide such a pair
