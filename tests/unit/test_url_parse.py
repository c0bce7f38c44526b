"""The trust rules parse URLs without importing httpx (``checks/url_parse.py``), and must read
every URL as httpx reads it: a table of URLs to the answers the httpx-based rules gave (IPv6,
ports and default ports, trailing slashes, userinfo, percent-encoding, upper case), and a
property test against httpx itself, the client that sends the requests."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmform.checks.trust import UntrustableUrl, normal_url, shown
from llmform.checks.url_parse import InvalidUrl, parse_url

# (URL, str(normal_url(URL)) or "untrustable", shown(URL)): as the httpx-based rules answered
TABLE = [
    ("http://[::1]:8000/v1", "http://[::1]:8000/v1", "http://[::1]:8000/v1"),
    ("http://[0:0:0:0:0:0:0:1]/", "http://[::1]", "http://[::1]"),
    ("https://[2001:DB8::1]/v1", "https://[2001:db8::1]/v1", "https://[2001:db8::1]/v1"),
    (
        "http://[::ffff:127.0.0.1]:8000",
        "http://[::ffff:7f00:1]:8000",
        "http://[::ffff:7f00:1]:8000",
    ),
    (
        "http://[fe80::1%25eth0]:8080/v1",
        "http://[fe80::1%eth0]:8080/v1",
        "http://[fe80::1%eth0]:8080/v1",
    ),
    ("http://[::1", "untrustable", "(an invalid URL)"),
    ("http://[not-v6]/", "untrustable", "(an invalid URL)"),
    ("https://llm.corp:443/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("http://llm.corp:80/v1", "http://llm.corp/v1", "http://llm.corp/v1"),
    ("https://llm.corp:80/v1", "https://llm.corp:80/v1", "https://llm.corp:80/v1"),
    ("http://llm.corp:443/v1", "http://llm.corp:443/v1", "http://llm.corp:443/v1"),
    ("HTTPS://llm.corp:443/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://llm.corp:08443/v1", "https://llm.corp:8443/v1", "https://llm.corp:8443/v1"),
    ("https://llm.corp:/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://llm.corp:x/v1", "untrustable", "(an invalid URL)"),
    ("https://llm.corp:+443/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://llm.corp:65536/v1", "https://llm.corp:65536/v1", "https://llm.corp:65536/v1"),
    ("https://llm.corp", "https://llm.corp", "https://llm.corp"),
    ("https://llm.corp/", "https://llm.corp", "https://llm.corp"),
    ("https://llm.corp/v1/", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://llm.corp/v1//", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://llm.corp//v1", "https://llm.corp//v1", "https://llm.corp//v1"),
    ("https://user@llm.corp/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://user:pw@llm.corp/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://a@b@llm.corp/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://:@llm.corp/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://llm.corp/%7euser/v%31", "https://llm.corp/~user/v1", "https://llm.corp/~user/v1"),
    ("https://llm.corp/a%2fb", "https://llm.corp/a/b", "https://llm.corp/a/b"),
    ("https://llm.corp/a b/é", "https://llm.corp/a%20b/%C3%A9", "https://llm.corp/a%20b/%C3%A9"),
    ("https://llm.corp/%zz/100%", "https://llm.corp/%zz/100%", "https://llm.corp/%zz/100%"),
    ("https://llm.corp/%252e%252e/x", "https://llm.corp/x", "https://llm.corp/x"),
    ("https://llm.corp/a/%2e%2e/../b", "https://llm.corp/a/b", "https://llm.corp/a/b"),
    ("https://llm%2Ecorp/v1", "untrustable", "https://llm%2ecorp/v1"),
    ("https://LLM%2ecorp/v1", "untrustable", "https://llm%2ecorp/v1"),
    ("HTTPS://LLM.CORP/V1", "https://llm.corp/V1", "https://llm.corp/V1"),
    ("HtTp://Llm.Corp:8080/A", "http://llm.corp:8080/A", "http://llm.corp:8080/A"),
    (
        "https://BÜCHER.example/v1",
        "https://xn--bcher-kva.example/v1",
        "https://xn--bcher-kva.example/v1",
    ),
    ("https://faß.de/", "https://xn--fa-hia.de", "https://xn--fa-hia.de"),
    ("https://llm。corp/v1", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https://☃.net/", "untrustable", "(an invalid URL)"),
    ("https://xn--/", "https://xn--", "https://xn--"),
    ("https://llm.corp./v1", "untrustable", "https://llm.corp./v1"),
    ("http://127.1/", "untrustable", "http://127.1/"),
    ("http://256.1.1.1/", "untrustable", "(an invalid URL)"),
    ("http://127.0.0.01/", "untrustable", "(an invalid URL)"),
    ("ftp://llm.corp:21/v1", "untrustable", "ftp://llm.corp/v1"),
    ("FTP://llm.corp:21/v1", "untrustable", "ftp://llm.corp/v1"),
    ("llm.corp/v1", "untrustable", "llm.corp/v1"),
    ("//llm.corp/v1", "untrustable", "//llm.corp/v1"),
    ("not a url", "untrustable", "not%20a%20url"),
    ("https://llm.corp/v1\n", "untrustable", "(an invalid URL)"),
    ("https://llm.corp/v1?x=1#f", "https://llm.corp/v1", "https://llm.corp/v1"),
    ("https:llm.corp/v1", "untrustable", "https:llm.corp/v1"),
    ("http://", "untrustable", "http:"),
    ("https://user@/v1", "untrustable", "https:/v1"),
]


@pytest.mark.parametrize(("url", "normal", "named"), TABLE)
def test_urls_read_as_the_httpx_based_rules_read_them(url: str, normal: str, named: str) -> None:
    try:
        found = str(normal_url(url))
    except UntrustableUrl:
        found = "untrustable"
    assert (found, shown(url)) == (normal, named)


# Text made of what URLs are made of, and of what tricks parsers.
PIECES = st.sampled_from(
    [
        *"aZ09:/@[]%.?#\\-_~ é。ß+",
        *("%2e", "%2E", "%2F", "%25", "%zz", "::1", "127.0.0.1", "xn--", "80", "443"),
        *("https://", "http://", "HTTP://", "ftp://", "//", "user:pw@", "[::ffff:1.2.3.4]"),
    ]
)
URLS = st.lists(PIECES, max_size=12).map("".join)


@settings(max_examples=3000, deadline=None)
@given(URLS)
def test_parse_url_agrees_with_httpx(url: str) -> None:
    try:
        theirs = httpx.URL(url)
    except httpx.InvalidURL:
        with pytest.raises(InvalidUrl):
            parse_url(url)
        return
    ours = parse_url(url)
    assert ours.scheme == theirs.scheme
    assert ours.userinfo.encode("ascii") == theirs.userinfo
    assert ours.host.encode("ascii") == theirs.raw_host
    assert ours.port == theirs.port
    assert (ours.path or "/").encode("ascii") == theirs.raw_path.partition(b"?")[0]
    assert ours.query is None or ours.query.encode("ascii") == theirs.query
    assert ours.is_absolute == theirs.is_absolute_url
    try:
        stripped = str(theirs.copy_with(userinfo=b"", query=None, fragment=None))
    except httpx.InvalidURL:  # e.g. //user@//: without its userinfo, a path that starts //
        with pytest.raises(InvalidUrl):
            ours.without_userinfo_query_fragment()
    else:
        assert ours.without_userinfo_query_fragment() == stripped
    assert _normal(theirs) == _normal(url)  # a request's URL is read as its text is


def _normal(url: object) -> str:
    try:
        return str(normal_url(url))
    except UntrustableUrl as exc:
        return f"untrustable: {exc}"
