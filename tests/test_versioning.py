"""Which version a static URL carries (quart_cdn._versioning): the manifest rule, the
timestamp rule with its mtime cache, and the once-per-file warnings, all bounded."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from quart_cdn import Manifest, ManifestError, NotInManifestError
from quart_cdn._cache import ENTRY_BYTES, MAX_CACHE_BYTES, estimate
from quart_cdn._config import CDNConfig
from quart_cdn._log import BURST
from quart_cdn._versioning import Versioner, safe_join

CHECKSUMS = Manifest({"static/js/app.js": "0123abcd"}, kind="checksum", source="m.md5")
MAPPING = Manifest(
    {"js/app.js": "js/app.1.js", "static/css/app.css": "static/css/app.2.css"},
    kind="mapping",
    source="m.json",
)


def _config(**settings: Any) -> CDNConfig:
    return CDNConfig.from_settings({"domain": "cdn.example.com", **settings})


def _manifest_config(strict: bool = True) -> CDNConfig:
    return _config(manifest=True, manifest_url="m.json", manifest_strict=strict)


@pytest.fixture
def folder(tmp_path: Path) -> str:
    (tmp_path / "js").mkdir()
    app = tmp_path / "js" / "app.js"
    app.write_text("x")
    os.utime(app, (1_700_000_000.5, 1_700_000_000.5))
    return str(tmp_path)


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="quart_cdn")
    return caplog


def _quart_cdn(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "quart_cdn"]


# -- the timestamp rule ---------------------------------------------------------------------


def test_timestamp_rule_gives_int_mtime(folder: str) -> None:
    versioner = Versioner(_config())
    assert versioner.version(None, "static/js/app.js", "js/app.js", folder) == (
        None,
        "t=1700000000",
    )


def test_timestamp_rule_reads_each_mtime_once(folder: str) -> None:
    """Read once, then cached for the life of the process: a later change is not seen."""
    versioner = Versioner(_config())
    assert versioner.mtime(folder, "js/app.js") == 1_700_000_000
    os.utime(os.path.join(folder, "js", "app.js"), (1_800_000_000, 1_800_000_000))
    assert versioner.mtime(folder, "js/app.js") == 1_700_000_000


def test_timestamp_rule_missing_file_no_version_one_warning(
    folder: str, warnings: pytest.LogCaptureFixture
) -> None:
    versioner = Versioner(_config())
    for _ in range(3):
        assert versioner.version(None, "static/gone.js", "gone.js", folder) == (None, None)
    assert _quart_cdn(warnings) == [
        f"Static file 'gone.js' not found in {folder!r}; its CDN URL gets no t= version"
    ]
    # The miss is cached too: the file appearing later is not seen.
    Path(folder, "gone.js").write_text("x")
    assert versioner.mtime(folder, "gone.js") is None


@pytest.mark.parametrize(
    "name", ["../secret", "/etc/passwd", "a\\b", "a\x00b", "", "./", "a/../../b"]
)
def test_timestamp_rule_refuses_names_that_leave_the_folder(folder: str, name: str) -> None:
    assert safe_join(folder, name) is None
    assert Versioner(_config()).mtime(folder, name) is None


def test_safe_join_normalises_harmless_parts(folder: str) -> None:
    assert safe_join(folder, "./js//app.js") == os.path.join(folder, "js", "app.js")


@pytest.mark.parametrize(
    ("config", "folder_given"),
    [(_config(timestamp=False), True), (_config(), False)],
    ids=["timestamp-off", "no-folder"],
)
def test_timestamp_rule_off_or_no_folder_gives_no_version(
    folder: str, config: CDNConfig, folder_given: bool
) -> None:
    versioner = Versioner(config)
    result = versioner.version(
        None, "static/js/app.js", "js/app.js", folder if folder_given else None
    )
    assert result == (None, None)


# -- the manifest rule ----------------------------------------------------------------------


def test_manifest_rule_checksum_gives_c_and_wins_over_timestamp(folder: str) -> None:
    versioner = Versioner(_manifest_config())
    assert versioner.version(CHECKSUMS, "static/js/app.js", "js/app.js", folder) == (
        None,
        "c=0123abcd",
    )


@pytest.mark.parametrize(
    ("url_key", "filename", "hashed"),
    [
        ("static/js/app.js", "js/app.js", "js/app.1.js"),
        # A key written with the URL path in front, and its value too: relative result.
        ("static/css/app.css", "css/app.css", "css/app.2.css"),
    ],
)
def test_manifest_rule_mapping_gives_hashed_name(url_key: str, filename: str, hashed: str) -> None:
    versioner = Versioner(_manifest_config())
    assert versioner.version(MAPPING, url_key, filename, None) == (hashed, None)


@pytest.mark.parametrize("manifest", [CHECKSUMS, MAPPING], ids=["checksum", "mapping"])
def test_manifest_rule_strict_missing_raises(manifest: Manifest, folder: str) -> None:
    versioner = Versioner(_manifest_config(strict=True))
    with pytest.raises(NotInManifestError, match=r"^static/js/other\.js not found in manifest$"):
        versioner.version(manifest, "static/js/other.js", "js/other.js", folder)


def test_manifest_rule_strict_before_load_raises(folder: str) -> None:
    versioner = Versioner(_manifest_config(strict=True))
    with pytest.raises(ManifestError, match=r"No manifest has been loaded yet from 'm\.json'"):
        versioner.version(None, "static/js/app.js", "js/app.js", folder)


def test_manifest_rule_lenient_falls_back_to_timestamp_and_warns_once(
    folder: str, warnings: pytest.LogCaptureFixture
) -> None:
    versioner = Versioner(_manifest_config(strict=False))
    for _ in range(3):
        assert versioner.version(MAPPING, "static/js/app.js", None, folder) == (None, None)
        assert versioner.version(CHECKSUMS, "static/js/other.js", "js/app.js", folder) == (
            None,
            "t=1700000000",
        )
        assert versioner.version(None, "static/x.js", "js/app.js", folder) == (
            None,
            "t=1700000000",
        )
    assert _quart_cdn(warnings) == [
        "'static/js/app.js' is not in the manifest; falling back to an unversioned or "
        "timestamped URL",
        "'static/js/other.js' is not in the manifest; falling back to an unversioned or "
        "timestamped URL",
        "No manifest loaded yet; 'static/x.js' falls back to an unversioned or timestamped URL",
    ]


# -- warn_once: small, bounded, rate-limited ------------------------------------------------


def test_warn_once_quotes_and_cuts_long_names(
    folder: str, warnings: pytest.LogCaptureFixture
) -> None:
    name = "n" * 5_000_000
    Versioner(_config()).mtime(folder, name)
    [message] = _quart_cdn(warnings)
    assert len(message) < 1024
    assert "(4,999,800 more characters)" in message


def test_warn_once_hostile_names_log_little(
    folder: str, warnings: pytest.LogCaptureFixture
) -> None:
    """50,000 distinct 4,000-character missing names in a minute: at most BURST warnings and
    one summary line (it was 50,000 warnings, 195 MB)."""
    versioner = Versioner(_config())
    for n in range(50_000):
        versioner.version(None, "static/x", f"{n:05d}" + "x" * 3_995, folder)
    messages = _quart_cdn(warnings)
    assert len(messages) == BURST + 1
    assert messages[-1].startswith(f"quart-cdn logged {BURST} records in the last minute")
    assert sum(map(len, messages)) < (BURST + 1) * 1024


def test_mtime_cache_and_warned_set_bounded_by_bytes(folder: str) -> None:
    versioner = Versioner(_config())
    for n in range(50_000):
        versioner.mtime(folder, f"{n:05d}" + "x" * 3_995)
    mtimes = sum(ENTRY_BYTES + estimate(key) + 32 for key in versioner._mtimes)
    warned = sum(ENTRY_BYTES + estimate(key) for key in versioner._warned)
    assert mtimes <= MAX_CACHE_BYTES and warned <= MAX_CACHE_BYTES
    assert 1_000 < len(versioner._mtimes) < 10_000  # about 4 KB an entry


def test_bounded_caches_keep_the_first_names(
    folder: str, warnings: pytest.LogCaptureFixture
) -> None:
    """Once full, nothing is evicted: names seen first stay cached and warned about once."""
    versioner = Versioner(_config(), max_bytes=20_000)
    assert versioner.mtime(folder, "js/app.js") == 1_700_000_000
    for n in range(100):
        versioner.mtime(folder, f"missing-{n}-" + "y" * 1_000)
    assert (folder, "js/app.js") in versioner._mtimes
    assert len(versioner._mtimes) < 20
    # A name the full set no longer remembers is still warned about under the log limits.
    assert len(_quart_cdn(warnings)) <= BURST + 1
