"""The validated settings (quart_cdn._config)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from quart_cdn._config import DEFAULT_MAX_BYTES, DEFAULTS, MIN_REFRESH, CDNConfig, quart_key

KeyFunc = Callable[[str], str]


def keyword_key(name: str) -> str:
    return f"{name}="


KEYS = pytest.mark.parametrize("key", [quart_key, keyword_key], ids=["quart", "keyword"])


def _raises(settings: dict[str, Any], key: KeyFunc, name: str, reason: str = "") -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(key(name))} {reason}"):
        CDNConfig.from_settings(settings, key=key)


def test_config_from_settings_defaults_equal_contract_table() -> None:
    config = CDNConfig.from_settings({})
    assert dataclasses.asdict(config) == {
        "domain": None,
        "https": None,
        "debug": False,
        "timestamp": True,
        "endpoints": frozenset({"static"}),
        "manifest": False,
        "manifest_url": None,
        "manifest_refresh": None,
        "manifest_timeout": 10.0,
        "manifest_strict": True,
        "manifest_max_bytes": DEFAULT_MAX_BYTES,
        "crossorigin": "anonymous",
        "dev_server": None,
        "dev_server_react": False,
        "preload_headers": True,
    }
    assert config == CDNConfig()
    assert not config.active


def test_config_defaults_cover_every_field() -> None:
    assert set(DEFAULTS) == {field.name for field in dataclasses.fields(CDNConfig)}


@pytest.mark.parametrize(
    ("debug", "debug_default", "expected"),
    [
        (None, False, False),
        (None, True, True),
        (False, True, False),
        (True, False, True),
    ],
)
def test_config_debug_defaults_to_app_debug(
    debug: bool | None, debug_default: bool, expected: bool
) -> None:
    config = CDNConfig.from_settings({"debug": debug}, debug_default=debug_default)
    assert config.debug is expected


def test_config_quart_key() -> None:
    assert quart_key("manifest_url") == "CDN_MANIFEST_URL"
    assert quart_key("domain") == "CDN_DOMAIN"


def test_config_is_frozen() -> None:
    config = CDNConfig.from_settings({"domain": "cdn.example.com"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.domain = "evil.example"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settings", "field", "expected"),
    [
        ({"domain": "cdn.example.com/"}, "domain", "cdn.example.com"),
        ({"domain": ""}, "domain", None),
        ({"https": True}, "https", True),
        ({"https": False}, "https", False),
        ({"endpoints": ["static", "assets"]}, "endpoints", frozenset({"static", "assets"})),
        ({"endpoints": ()}, "endpoints", frozenset()),
        ({"manifest_refresh": 0}, "manifest_refresh", None),
        ({"manifest_refresh": 60}, "manifest_refresh", 60.0),
        ({"manifest_refresh": 1}, "manifest_refresh", 1.0),
        ({"manifest_refresh": 1.5}, "manifest_refresh", 1.5),
        ({"manifest_refresh": None}, "manifest_refresh", None),
        ({"manifest_timeout": 3}, "manifest_timeout", 3.0),
        ({"manifest_url": Path("/srv/manifest.json")}, "manifest_url", "/srv/manifest.json"),
        ({"manifest_url": ""}, "manifest_url", None),
        ({"manifest_max_bytes": 1024}, "manifest_max_bytes", 1024),
        ({"manifest_strict": False}, "manifest_strict", False),
        ({"timestamp": False}, "timestamp", False),
    ],
)
def test_config_from_settings_accepts(
    settings: dict[str, Any], field: str, expected: object
) -> None:
    value = getattr(CDNConfig.from_settings(settings), field)
    assert value == expected
    assert type(value) is type(expected)


def test_config_manifest_on_with_url() -> None:
    config = CDNConfig.from_settings(
        {"domain": "cdn.example.com", "manifest": True, "manifest_url": "https://x/m.json"}
    )
    assert config.manifest
    assert config.manifest_url == "https://x/m.json"
    assert config.active


BAD_VALUE_CASES: list[tuple[str, object, str]] = [
    ("domain", "https://cdn.example.com", r"'https://cdn\.example\.com' must not carry a scheme"),
    ("domain", "cdn.example.com:0", r".* has an invalid port"),
    ("domain", 42, r"must be a string"),
    ("https", "yes", r"must be True, False or None, not 'yes'"),
    ("https", 1, r"must be True, False or None, not 1"),
    ("manifest_refresh", -1, r"must be a non-negative finite number of seconds, not -1"),
    ("manifest_refresh", -0.5, r"must be a non-negative finite number of seconds"),
    ("manifest_refresh", math.inf, r"must be a non-negative finite number of seconds"),
    ("manifest_refresh", math.nan, r"must be a non-negative finite number of seconds"),
    ("manifest_refresh", "60", r"must be a number of seconds, not '60' \(use None"),
    ("manifest_refresh", True, r"must be a number of seconds, not True"),
    ("manifest_refresh", 0.5, r"is 0\.5 seconds, below the floor of 1 s; set it to 1 or more"),
    ("manifest_refresh", 0.01, r"is 0\.01 seconds, below the floor of 1 s; .* or to None or 0"),
    ("manifest_refresh", 0.999, r"is 0\.999 seconds, below the floor"),
    ("manifest_refresh", 1e-9, r"is 1e-09 seconds, below the floor"),
    ("manifest_timeout", "10", r"must be a number of seconds, not '10'$"),
    ("manifest_timeout", "soon", r"must be a number of seconds, not 'soon'$"),
    ("manifest_timeout", None, r"must be a number of seconds, not None$"),
    ("manifest_timeout", 0, r"must be a positive finite number of seconds, not 0"),
    ("manifest_timeout", -1.0, r"must be a positive finite number of seconds"),
    ("manifest_timeout", math.inf, r"must be a positive finite number of seconds"),
    ("endpoints", "static", r"must be a list of endpoint names such as \['static'\], not 'static'"),
    ("endpoints", 3, r"must be a list of endpoint names"),
    ("endpoints", None, r"must be a list of endpoint names"),
    ("endpoints", [""], r"must hold non-empty strings"),
    ("endpoints", ["static", 1], r"must hold non-empty strings"),
    ("manifest_max_bytes", 0, r"must be a positive number of bytes, not 0"),
    ("manifest_max_bytes", -1, r"must be a positive number of bytes"),
    ("manifest_max_bytes", 1.5, r"must be a positive number of bytes"),
    ("manifest_max_bytes", True, r"must be a positive number of bytes"),
]


@pytest.mark.parametrize(("name", "value", "reason"), BAD_VALUE_CASES)
@KEYS
def test_config_value_error_names_key(name: str, value: object, reason: str, key: KeyFunc) -> None:
    _raises({name: value}, key, name, reason)


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, value, _ in BAD_VALUE_CASES],
)
def test_config_keyword_messages_name_no_quart_key(name: str, value: object) -> None:
    """With key=lambda n: f"{n}=", no message speaks of a CDN_* key the user never wrote."""
    with pytest.raises(ValueError) as info:
        CDNConfig.from_settings({name: value}, key=keyword_key)
    assert "CDN_" not in str(info.value)


@pytest.mark.parametrize("url", [None, ""])
@KEYS
def test_config_manifest_on_without_url_refused(url: str | None, key: KeyFunc) -> None:
    settings = {"manifest": True, "manifest_url": url}
    reason = rf"is on but {re.escape(key('manifest_url'))} is not set; set it to"
    _raises(settings, key, "manifest", reason)


def test_config_manifest_off_without_url_is_fine() -> None:
    assert CDNConfig.from_settings({"manifest": False}).manifest_url is None


def test_config_refresh_floor_is_one_second() -> None:
    """0.01 s ran about 80 requests a second per worker; the floor refuses it at start-up."""
    assert MIN_REFRESH == 1.0
    assert CDNConfig.from_settings({"manifest_refresh": MIN_REFRESH}).manifest_refresh == 1.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("endpoints", "s" * 100_000),
        ("endpoints", ["static", "e" * 100_000, 1]),
        ("https", "y" * 100_000),
        ("manifest_timeout", "t" * 100_000),
        ("manifest_max_bytes", "b" * 100_000),
    ],
)
def test_config_message_cuts_the_value(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=r"more characters\)") as info:
        CDNConfig.from_settings({name: value})
    assert len(str(info.value)) < 300


# -- entries (turn 2) ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["anonymous", "use-credentials", None])
def test_config_crossorigin_values(value: str | None) -> None:
    assert CDNConfig.from_settings({"crossorigin": value}).crossorigin == value


@KEYS
@pytest.mark.parametrize("value", ["", "Anonymous", True, "x" * 200])
def test_config_crossorigin_refused(key: KeyFunc, value: object) -> None:
    _raises({"crossorigin": value}, key, "crossorigin", "must be 'anonymous', 'use-credentials'")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://localhost:5173", "http://localhost:5173"),
        ("http://localhost:5173/", "http://localhost:5173"),
        ("https://[::1]:5173/static/", "https://[::1]:5173/static"),
        ("", None),
        (None, None),
    ],
)
def test_config_dev_server_values(value: str | None, expected: str | None) -> None:
    assert CDNConfig.from_settings({"dev_server": value}).dev_server == expected


@KEYS
@pytest.mark.parametrize(
    "value",
    [
        "localhost:5173",
        "ws://localhost:5173",
        "http://",
        "http://localhost:99999",
        "http://user@localhost:5173",
        "http://localhost:5173/?x=1",
        "http://localhost:5173/#x",
        "http://local host",
        5173,
    ],
)
def test_config_dev_server_refused(key: KeyFunc, value: object) -> None:
    _raises({"dev_server": value}, key, "dev_server", "must be a")


def test_config_dev_server_message_names_value_and_fix() -> None:
    with pytest.raises(ValueError, match=r"'localhost:5173'; give the URL of Vite's dev server"):
        CDNConfig.from_settings({"dev_server": "localhost:5173"})


def test_config_entry_flags() -> None:
    config = CDNConfig.from_settings({"dev_server_react": 1, "preload_headers": 0})
    assert config.dev_server_react is True and config.preload_headers is False
