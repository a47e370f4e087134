"""The pure URL helpers (quart_cdn._urls)."""

from __future__ import annotations

import re

import pytest
from quart import Quart

from quart_cdn._urls import add_query, cdn_url, normalize_domain, quote_anchor


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cdn.example.com", "cdn.example.com"),
        ("cdn.example.com/", "cdn.example.com"),
        ("cdn.example.com//", "cdn.example.com"),
        ("mycdnname.cloudfront.net", "mycdnname.cloudfront.net"),
        ("CDN.Example.COM", "CDN.Example.COM"),
        ("cdn.example.com.", "cdn.example.com."),
        ("localhost", "localhost"),
        ("cdn_1.example.com", "cdn_1.example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("cdn.example.com:8080", "cdn.example.com:8080"),
        ("cdn.example.com:1", "cdn.example.com:1"),
        ("cdn.example.com:65535", "cdn.example.com:65535"),
        ("cdn.example.com/prefix", "cdn.example.com/prefix"),
        ("cdn.example.com/prefix/", "cdn.example.com/prefix"),
        ("cdn.example.com:8443/a/b/", "cdn.example.com:8443/a/b"),
        ("cdn.example.com/a%20b", "cdn.example.com/a%20b"),
        ("[::1]", "[::1]"),
        ("[::1]:8443", "[::1]:8443"),
        ("[2001:db8::1]:443/cdn/", "[2001:db8::1]:443/cdn"),
    ],
)
def test_normalize_domain_accepts(value: str, expected: str) -> None:
    assert normalize_domain(value) == expected


@pytest.mark.parametrize("value", [None, "", False, 0])
def test_normalize_domain_falsy_is_off(value: object) -> None:
    assert normalize_domain(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://cdn.example.com", r"must not carry a scheme"),
        ("http://cdn.example.com/", r"must not carry a scheme"),
        ("HTTPS://cdn.example.com:8443/p", r"must not carry a scheme"),
        ("user@cdn.example.com", r"must not contain user information"),
        ("user:secret@cdn.example.com", r"must not contain user information"),
        ("cdn .example.com", r"contains whitespace or a control character"),
        (" cdn.example.com", r"contains whitespace or a control character"),
        ("cdn.example.com\n", r"contains whitespace or a control character"),
        ("cdn.example.com/a b", r"contains whitespace or a control character"),
        ("cdn.example.com\x00", r"contains whitespace or a control character"),
        ("cdn.example.com\x7f", r"contains whitespace or a control character"),
        ("cdn.example.com\r\nX-Evil: 1", r"contains whitespace or a control character"),
        ("cdn.example.com?x=1", r"must not contain '\?', '#' or '\\'"),
        ("cdn.example.com#top", r"must not contain '\?', '#' or '\\'"),
        ("cdn.example.com\\evil", r"must not contain '\?', '#' or '\\'"),
        ("cdn.example.com:0", r"has an invalid port"),
        ("cdn.example.com:65536", r"has an invalid port"),
        ("cdn.example.com:abc", r"has an invalid port"),
        ("cdn.example.com:", r"has an invalid port"),
        ("cdn.example.com:+80", r"has an invalid port"),
        ("cdn.example.com:-1", r"has an invalid port"),
        ("[::1]8443", r"has an invalid port"),
        ("/static", r"does not start with a valid host name"),
        ("//cdn.example.com", r"does not start with a valid host name"),
        (":8080", r"does not start with a valid host name"),
        ("-cdn.example.com", r"does not start with a valid host name"),
        ("cdn..example.com", r"does not start with a valid host name"),
        ("bücher.example", r"does not start with a valid host name"),
        ("[::1", r"does not start with a valid host name"),
        ("[not-ipv6]", r"does not start with a valid host name"),
        ("cdn.example.com/a<b", r"has a path prefix with characters that must be percent-encoded"),
        ('cdn.example.com/"x"', r"has a path prefix with characters that must be percent-encoded"),
    ],
)
def test_normalize_domain_refuses(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=rf"^CDN_DOMAIN {re.escape(repr(value))} {reason}"):
        normalize_domain(value)


@pytest.mark.parametrize("value", [123, b"cdn.example.com", ["cdn.example.com"]])
def test_normalize_domain_refuses_non_strings(value: object) -> None:
    with pytest.raises(ValueError, match=r"^CDN_DOMAIN must be a string such as"):
        normalize_domain(value)


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("https://cdn.example.com", "set CDN_DOMAIN 'cdn.example.com' and CDN_HTTPS to choose"),
        ("http://cdn.example.com:8080/p/", "set CDN_DOMAIN 'cdn.example.com:8080/p' and"),
    ],
)
def test_normalize_domain_scheme_hint(value: str, hint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(hint)):
        normalize_domain(value)


@pytest.mark.parametrize(("key", "https_key"), [("CDN_DOMAIN", "CDN_HTTPS"), ("domain=", "https=")])
def test_normalize_domain_message_names_key(key: str, https_key: str) -> None:
    expected = f"{key} 'https://x.example' must not carry a scheme; set {key} 'x.example' and "
    with pytest.raises(ValueError, match=rf"^{re.escape(expected + https_key)} to choose"):
        normalize_domain("https://x.example", key=key, https_key=https_key)


@pytest.mark.parametrize("port", ["\u0668\u0660", "\u00b2", "\uff18\uff10"])
def test_normalize_domain_refuses_non_ascii_port(port: str) -> None:
    """str.isdigit() is true for these, and int() even reads two of them."""
    with pytest.raises(ValueError, match=r"^CDN_DOMAIN .* has an invalid port"):
        normalize_domain(f"cdn.example.com:{port}")


# -- cdn_url, add_query, quote_anchor -------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "anchor", "expected"),
    [
        ("https", None, "https://cdn.example.com/static/js/app.js?t=1"),
        ("http", None, "http://cdn.example.com/static/js/app.js?t=1"),
        ("", None, "//cdn.example.com/static/js/app.js?t=1"),
        ("https", "top", "https://cdn.example.com/static/js/app.js?t=1#top"),
        ("", "a b", "//cdn.example.com/static/js/app.js?t=1#a%20b"),
        ("https", "", "https://cdn.example.com/static/js/app.js?t=1#"),
    ],
)
def test_cdn_url_joins_parts(scheme: str, anchor: str | None, expected: str) -> None:
    assert cdn_url(scheme, "cdn.example.com", "/static/js/app.js?t=1", anchor) == expected


def test_cdn_url_keeps_domain_port_and_prefix() -> None:
    url = cdn_url("https", "[::1]:8443/cdn", "/static/x.js")
    assert url == "https://[::1]:8443/cdn/static/x.js"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/static/a.js", "/static/a.js?c=abc"),
        ("/static/a.js?v=1", "/static/a.js?v=1&c=abc"),
        ("/static/a.js?v=1&w=2", "/static/a.js?v=1&w=2&c=abc"),
    ],
)
def test_add_query_appends(path: str, expected: str) -> None:
    assert add_query(path, "c=abc") == expected


@pytest.mark.parametrize(
    "anchor",
    ["top", "a b", "ä/ö", "x#y", "%41", "a&b=c", "<script>", "q?x=1", "tab\there", "~'()*!,;:@$"],
)
async def test_quote_anchor_same_as_quart(anchor: str) -> None:
    app = Quart(__name__)
    async with app.test_request_context("/"):
        from quart import url_for

        quart_url = url_for("static", filename="a.js", _anchor=anchor)
    assert quart_url == f"/static/a.js#{quote_anchor(anchor)}"
