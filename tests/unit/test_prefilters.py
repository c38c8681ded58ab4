"""The C-speed first tests of the findings and the secret scan let through everything their
patterns match, and the fast path classifiers answer what the patterns answer.

Texts are sampled from each pattern's own language (its parse tree, walked at random),
with random text around them, and kept when the pattern really matches them: a prefix, an
ending or a needle the pattern does not imply fails here.
"""

from __future__ import annotations

import importlib
import random
import re
from typing import Any

import pytest

from inspector import secrets
from inspector.findings import build_context_junk, build_tools, cache_busting_order, package_cache
from inspector.findings.model import PathRef, top_paths

_parser: Any = importlib.import_module("re._parser")  # (no typing stubs: a private module)
_constants: Any = importlib.import_module("re._constants")

SAMPLES = 400
ALPHABET = "aZ0_-./:@ \t\n\"'=é"


def _member(char: str, items: list[tuple[Any, Any]]) -> bool:
    """Whether `char` is in a parsed character set."""
    negate = False
    found = False
    c = _constants
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            found = found or ord(char) == av
        elif op is c.RANGE:
            found = found or av[0] <= ord(char) <= av[1]
        elif op is c.CATEGORY:
            word = char.isalnum() or char == "_"
            test = {
                c.CATEGORY_DIGIT: char.isdigit(),
                c.CATEGORY_NOT_DIGIT: not char.isdigit(),
                c.CATEGORY_SPACE: char.isspace(),
                c.CATEGORY_NOT_SPACE: not char.isspace(),
                c.CATEGORY_WORD: word,
                c.CATEGORY_NOT_WORD: not word,
            }[av]
            found = found or test
        else:
            raise AssertionError(f"a set item the sampler does not know: {op}")
    return found != negate


def _sample(rng: random.Random, tree: list[tuple[Any, Any]], ignore_case: bool) -> str:
    c = _constants
    out: list[str] = []
    for op, av in tree:
        if op is c.LITERAL:
            char = chr(av)
            out.append(char.swapcase() if ignore_case and rng.random() < 0.5 else char)
        elif op is c.NOT_LITERAL:
            out.append(rng.choice([ch for ch in ALPHABET if ord(ch) != av]))
        elif op is c.ANY:
            out.append(rng.choice(ALPHABET.replace("\n", "")))
        elif op is c.IN:
            own = [chr(v) for o, v in av if o is c.LITERAL]
            own += [chr(v) for o, pair in av if o is c.RANGE for v in pair]
            out.append(rng.choice([ch for ch in [*ALPHABET, *own] if _member(ch, av)]))
        elif op is c.BRANCH:
            out.append(_sample(rng, rng.choice(av[1]), ignore_case))
        elif op is c.SUBPATTERN:
            out.append(_sample(rng, av[3], ignore_case))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, inner = av
            count = rng.randint(low, min(high, low + 3))
            out.extend(_sample(rng, inner, ignore_case) for _ in range(count))
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # anchors and lookarounds: the real pattern decides below
        else:
            raise AssertionError(f"an operator the sampler does not know: {op}")
    return "".join(out)


def samples(pattern: re.Pattern[Any], *, context: bool, seed: int = 1) -> list[Any]:
    """Texts `pattern` matches (`search`es, with `context`), of its type (str or bytes)."""
    rng = random.Random(seed)
    text = isinstance(pattern.pattern, str)
    source = pattern.pattern if text else pattern.pattern.decode("latin-1")
    tree = _parser.parse(source, pattern.flags & ~re.UNICODE if not text else pattern.flags)
    ignore_case = bool(pattern.flags & re.IGNORECASE)
    found: list[Any] = []
    for _ in range(SAMPLES):
        core = _sample(rng, list(tree), ignore_case)
        if context:
            around = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 4)))
            after = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 2)))
            core = around + core + after
        value = core if text else core.encode("latin-1")
        if (pattern.search if context else pattern.match)(value):
            found.append(value)
    assert len(found) >= SAMPLES // 10, f"too few samples match {pattern.pattern!r}"
    return found


@pytest.mark.parametrize("manager", package_cache.MANAGERS, ids=lambda m: m.name)
def test_package_caches_start_with_a_known_prefix(manager: package_cache.Manager) -> None:
    for path in samples(manager.pattern, context=False):
        assert path.startswith(package_cache.STARTS), path
        assert package_cache.may_be_cache(path), path
        first = next(m for m in package_cache.MANAGERS if m.pattern.match(path))
        assert package_cache.manager_of(path) is first, path


def test_a_path_outside_every_cache_has_no_manager() -> None:
    for path in ("usr/lib/python3/x.py", "var/lib/apt/lists/lock", "root", "opt/conda/x"):
        assert package_cache.manager_of(path) is None, path
    assert not package_cache.may_be_cache("usr/share/doc/x")


@pytest.mark.parametrize(
    "regex",
    [regex for _, regex in build_tools.KINDS] + [build_tools._DEV_PACKAGE],
    ids=lambda regex: regex.pattern[:40],
)
def test_build_tools_paths_pass_the_first_test(regex: re.Pattern[str]) -> None:
    for path in samples(regex, context=False):
        assert path.startswith(build_tools.STARTS) or path.endswith(build_tools.ENDS), path


@pytest.mark.parametrize("ecosystem", cache_busting_order.ECOSYSTEMS, ids=lambda e: e.name)
def test_manifest_names_end_with_a_known_ending(ecosystem: cache_busting_order.Ecosystem) -> None:
    names = [name for name in samples(ecosystem.manifest, context=True) if "/" not in name]
    assert names
    for name in names:
        assert name.endswith((*ecosystem.ends, "\n")), name


def _first_rule(path: str) -> str | None:
    return next((p for p, regex in build_context_junk.PATTERNS if regex.match(path)), None)


def test_build_context_junk_classifies_as_its_regexes_do() -> None:
    rng = random.Random(7)
    parts = [name for _, _, names in build_context_junk.RULES for name in names]
    parts += ["app", "x.py", ".envrc", "a.log.1", "Dockerfile.dev", "x\ny", "b\n", "", ".x"]
    paths = ["/".join(rng.choice(parts) for _ in range(rng.randint(1, 5))) for _ in range(4000)]
    for _, regex in build_context_junk.PATTERNS:
        paths += samples(regex, context=False)
    expected = {path: rule for path in paths if (rule := _first_rule(path)) is not None}
    assert len(expected) > 1000
    assert dict(build_context_junk._patterns(paths)) == expected


@pytest.mark.parametrize(
    ("kind", "pattern", "needles"), secrets._PATTERNS, ids=[kind for kind, *_ in secrets._PATTERNS]
)
def test_a_secret_pattern_matches_only_text_with_its_needles(
    kind: str, pattern: re.Pattern[bytes], needles: tuple[bytes, ...]
) -> None:
    for text in samples(pattern, context=True):
        assert any(needle in text for needle in needles), (kind, text)
        assert secrets._may_hold(text), (kind, text)  # the markers imply the needles


def test_the_per_name_secret_patterns_pass_their_first_tests() -> None:
    for text in samples(secrets._PASSWORD_FIELD, context=True):
        assert b"passw" in text.lower(), text
    for text in samples(secrets._NETRC, context=True):
        assert b"password" in text, text
        assert secrets._may_hold(text), text


def test_a_password_field_is_found_in_any_case() -> None:
    text = b"# secret settings\nPaSSwoRD = s3cr3tvalue\n"
    assert [hit.kind for hit in secrets.scan("etc/app.conf", text)] == ["password"]
    assert [hit.kind for hit in secrets.scan("etc/app.conf", text.upper())] == ["password"]


def test_candidate_suffixes_cover_every_file_the_scan_wants() -> None:
    # (`.env.<suffix>` names, which `wants` takes, are not candidates: never scanned)
    names = [*secrets._NAMED, "app.env", "k.pem", "k.key", "a/.docker/config.json"]
    names += ["r/.aws/credentials", "x/.git-credentials", "c.json", "c.yml", "c.tfvars"]
    for name in names:
        assert secrets.wants(name, 100), name
        assert name.endswith(secrets.CANDIDATE_SUFFIXES), name
        assert secrets.LayerScanner().wanted(name, 100) == 100, name
    assert secrets.LayerScanner().wanted("usr/lib/python3/x.py", 100) == 0


def test_top_paths_are_the_largest_then_by_name() -> None:
    rng = random.Random(3)
    for _ in range(300):
        sizes = {f"p{rng.randint(0, 60)}": rng.choice([0, 1, 5, 5, 7, 100]) for _ in range(40)}
        limit = rng.choice([1, 3, 10, 50])
        ranked = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:limit]
        assert top_paths(sizes, limit) == (
            tuple(PathRef(path, size) for path, size in ranked),
            len(sizes),
        )
