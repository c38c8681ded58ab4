"""The filter bar's language: regex or glob, smart-case, size conditions."""

from __future__ import annotations

import pytest

from inspector.ui.pathfilter import PatternMode, glob_to_regex, parse_query, parse_size

REGEX, GLOB = PatternMode.REGEX, PatternMode.GLOB


def matches(text: str, mode: PatternMode, path: str) -> bool:
    query = parse_query(text, mode)
    matcher = query.text_matcher
    assert matcher is not None
    subject = path[path.rfind("/") + 1 :] if query.basename else path
    return bool(matcher(subject.lower() if query.fold else subject))


@pytest.mark.parametrize(
    ("text", "mode", "path", "expected"),
    [
        ("apt", REGEX, "/var/lib/apt/lists", True),
        ("^/var", REGEX, "/var/lib", True),
        ("^/lib", REGEX, "/var/lib", False),
        (r"\.so$", REGEX, "/usr/lib/libc.so", True),
        ("APT", REGEX, "/var/lib/apt", False),  # a capital: case matters
        ("apt", REGEX, "/var/lib/APT", True),  # lowercase: it does not
        ("*.so", GLOB, "/usr/lib/libc.so", True),
        ("*.so", GLOB, "/usr/lib/libc.so.6", False),
        ("lib*", GLOB, "/usr/lib", True),  # no slash: the file name
        ("usr/*/libc.so", GLOB, "/usr/lib/libc.so", True),
        ("usr/*/libc.so", GLOB, "/opt/usr/lib/libc.so", True),  # at any directory
        ("/usr/*/libc.so", GLOB, "/opt/usr/lib/libc.so", False),  # anchored at the root
        ("usr/**/x.h", GLOB, "/usr/include/a/b/x.h", True),
        ("usr/**/x.h", GLOB, "/usr/x.h", True),
        ("lib", GLOB, "/usr/lib/x", True),  # no wildcard: a substring
        ("lib?.so", GLOB, "/libc.so", True),
        ("lib[abc].so", GLOB, "/libc.so", True),
        ("lib[!abc].so", GLOB, "/libc.so", False),
    ],
)
def test_patterns(text: str, mode: PatternMode, path: str, expected: bool) -> None:
    assert matches(text, mode, path) is expected


def test_size_conditions() -> None:
    query = parse_query("*.tar >10MB <=1GiB", GLOB)
    assert [str(c) for c in query.sizes] == [">10000000", f"<={1 << 30}"]
    sizes = query.size_matcher
    assert sizes is not None
    assert sizes(20_000_000)
    assert not sizes(10_000_000)
    alone = parse_query(">1k", REGEX)
    assert alone.pattern is None
    assert alone.active
    assert alone.text_matcher is None
    assert parse_size(">=2.5M") is not None
    assert parse_size("<1Ki") == parse_size("<1024")
    assert parse_size("> 1x") is None


def test_invalid_regex_is_reported_not_raised() -> None:
    query = parse_query("*.so", REGEX)
    assert query.error is not None
    assert "invalid regex" in query.error
    assert not query.active


def test_highlight_span() -> None:
    query = parse_query("lib", REGEX)
    absolute = "/usr/lib/libc.so"
    start = absolute.rfind("/") + 1
    assert query.span(absolute, start) == (0, 3)
    name = parse_query("*.so", GLOB)
    assert name.span(absolute, start) == (0, len("libc.so"))
    assert parse_query(">1k", REGEX).span(absolute, start) is None


def test_glob_translation() -> None:
    assert glob_to_regex("a*b") == "a[^/]*b"
    assert glob_to_regex("a/**/b") == "a/(?:.*/)?b"
    assert glob_to_regex("[x") == r"\[x"


@pytest.mark.parametrize(
    ("text", "mode", "kind"),
    [
        (">1MB", REGEX, "size"),
        (">1MB <=4k", GLOB, "size"),
        ("apt", REGEX, "regex"),
        ("*.so", GLOB, "glob"),
        ("*.so >1MB", GLOB, "glob + size"),
        ("( >1MB", REGEX, "regex + size"),  # an invalid pattern is still a pattern
        (">huge", REGEX, "regex"),  # not a size condition: a pattern
    ],
)
def test_kind_names_what_the_filter_tests(text: str, mode: PatternMode, kind: str) -> None:
    assert parse_query(text, mode).kind == kind
