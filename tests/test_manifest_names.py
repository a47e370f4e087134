"""The one rule for names in a manifest (quart_cdn._manifest._names): check_name, and the
test of many names at once that must agree with it."""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings, strategies as st

from quart_cdn import ManifestParseError
from quart_cdn._manifest._names import (
    MAX_ENTRY_LENGTH,
    cdn_path,
    check_file,
    check_name,
    names_usual,
)

SOURCE = "manifest.json"

#: One refused name for each clause of the rule, and the reason the message gives.
REFUSED = {
    "scheme": ("https://evil.example/x.js", "carries a URL scheme"),
    "drive": ("C:x.js", "carries a URL scheme"),
    "scheme-only": ("js:", "carries a URL scheme"),
    "other-host": ("//evil.example/x.js", "names another host"),
    "parent": ("../x.js", "is not a relative path below the static folder"),
    "inner-parent": ("a/../../x.js", "is not a relative path below the static folder"),
    "dot": ("./x.js", "is not a relative path below the static folder"),
    "trailing-dot": ("a/.", "is not a relative path below the static folder"),
    "trailing-dots": ("a/..", "is not a relative path below the static folder"),
    "empty-segment": ("a//x.js", "is not a relative path below the static folder"),
    "empty": ("", "is not a relative path below the static folder"),
    "slash": ("/", "is not a relative path below the static folder"),
    "control": ("a\nb", "contains a control character"),
    "del": ("a\x7fb", "contains a control character"),
    "c1": ("a\x9fb", "contains a control character"),
    "query": ("a?b", "'\\?' or '#'"),
    "fragment": ("a#b", "'\\?' or '#'"),
    "backslash": ("a\\b", "a backslash"),
    "long": ("a" * (MAX_ENTRY_LENGTH + 1), f"longer than {MAX_ENTRY_LENGTH} characters"),
}

#: Accepted names, and what check_name gives for them.
ACCEPTED = {
    "plain": ("js/app.1.js", "js/app.1.js"),
    "leading-slash": ("/js/app.js", "js/app.js"),
    "scheme-after-slash": ("/https:x", "https:x"),
    "colon-inside": ("js/a:b.js", "js/a:b.js"),
    "trailing-slash": ("js/", "js/"),
    "dots-in-name": ("js/..x.js", "js/..x.js"),
    "hidden": (".well-known/x", ".well-known/x"),
    "space-and-unicode": ("js/mé ü.js", "js/mé ü.js"),
    "longest": ("a" * MAX_ENTRY_LENGTH, "a" * MAX_ENTRY_LENGTH),
}


@pytest.mark.parametrize(("value", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_names_check_name_refuses_each_clause(value: str, reason: str) -> None:
    with pytest.raises(ManifestParseError, match=rf"^Manifest '{SOURCE}' refused: key .*{reason}"):
        check_name(value, "key", SOURCE)


@pytest.mark.parametrize(("value", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_names_a_refused_name_is_not_usual(value: str, reason: str) -> None:
    assert not names_usual(["ok.js", value, "js/ok.js"])


@pytest.mark.parametrize(("value", "expected"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_names_check_name_accepts(value: str, expected: str) -> None:
    assert check_name(value, "value", SOURCE) == expected


@pytest.mark.parametrize("value", [3, None, ["a"], {"a": "b"}, 1.5])
def test_names_check_name_refuses_other_types(value: object) -> None:
    with pytest.raises(ManifestParseError, match=r"of type \w+; expected a string$"):
        check_name(value, "value", SOURCE)


def test_names_message_quotes_a_long_name_cut_short() -> None:
    with pytest.raises(ManifestParseError) as info:
        check_name("\x00" * 100_000, "value", SOURCE)
    assert len(str(info.value)) < 300 and "..." in str(info.value)


@pytest.mark.parametrize(
    ("value", "cdn", "path"),
    [
        ("https://cdn.example.com/static/a.js", "cdn.example.com", "/static/a.js"),
        ("//cdn.example.com:8443/a.js", "cdn.example.com:8443", "/a.js"),
        ("https://cdn.example.com/v2/a.js", "cdn.example.com/v2", "/a.js"),
        ("https://cdn.example.com/v2a.js", "cdn.example.com/v2", "https://cdn.example.com/v2a.js"),
        (
            "https://cdn.example.com.evil/a.js",
            "cdn.example.com",
            "https://cdn.example.com.evil/a.js",
        ),
        ("ftp://cdn.example.com/a.js", "cdn.example.com", "ftp://cdn.example.com/a.js"),
        ("static/a.js", "cdn.example.com", "static/a.js"),
        ("https://cdn.example.com/a.js", None, "https://cdn.example.com/a.js"),
    ],
)
def test_names_cdn_path(value: str, cdn: str | None, path: str) -> None:
    assert cdn_path(value, cdn) == path


def test_names_check_file_reads_a_cdn_url_and_refuses_others() -> None:
    assert check_file("https://cdn.example.com/a.js", "value", SOURCE, "cdn.example.com") == "a.js"
    assert check_file("/a.js", "value", SOURCE, "cdn.example.com") == "a.js"
    with pytest.raises(ManifestParseError, match=r"carries a URL scheme; .*publicPath"):
        check_file("https://evil.example/a.js", "value", SOURCE, "cdn.example.com")
    with pytest.raises(ManifestParseError, match=r"carries a URL scheme$"):
        check_file("javascript:alert(1)", "value", SOURCE, "cdn.example.com")


def test_names_usual_names() -> None:
    assert names_usual(["js/app.js", "css/a b.2.css", ".well-known/x", "js/..x.js", "é"])
    assert names_usual([])
    assert not names_usual(["/js/app.js"])  # kept, but not as it is


def test_names_usual_without_controls_skips_only_that_scan() -> None:
    assert names_usual(["a\x01b"], controls=False)  # the caller knows there are none
    assert not names_usual(["a\x01b"])
    assert not names_usual(["a\x85b", "a?b"], controls=False)


# Names like those of real manifests, of which one, in about half the examples, is spoilt by
# one piece that a clause of the rule is about: so that most examples pass names_usual and
# reach the assertion, and the spoilers are the ones that matter.
_SEGMENTS = st.sampled_from(["js", "css", "app.1a2b", "a-b_c", "x y", "é", ".well", "..x", "~"])
_SPOILERS = st.sampled_from(
    ["/", "//", ".", "..", ":", "?", "#", "\\", "\x00", "\n", "\x7f", "\x85", "\u2028", '"']
    + ["http:", "C:", "a:", " ", "é", "\ud7ff", "%2e"]
)


@st.composite
def _names(draw: st.DrawFn) -> list[str]:
    names = [
        "/".join(draw(st.lists(_SEGMENTS, min_size=1, max_size=4)))
        for _ in range(draw(st.integers(1, 6)))
    ]
    if draw(st.booleans()):  # one spoilt name
        which = draw(st.integers(0, len(names) - 1))
        at = draw(st.integers(0, len(names[which])))
        names[which] = names[which][:at] + draw(_SPOILERS) + names[which][at:]
    return names


@settings(max_examples=300, deadline=None)
@given(names=_names())
def test_names_usual_agrees_with_check_name(names: list[str]) -> None:
    """Whatever names_usual lets through, check_name keeps as it is; and without the scan
    for control characters, the same for names that hold none."""
    usual = names_usual(names)
    event("usual" if usual else "not usual")
    if usual:
        for name in names:
            assert check_name(name, "name", None) == name
    if names_usual(names, controls=False) and not any(c < " " for n in names for c in n):
        for name in names:
            assert check_name(name, "name", None) == name
