"""`build-tools`: compilers and build-only files in the final image.

Recognised by path in the final file system: gcc, g++ and cc1, clang, binutils (`ld`,
`as`), make, cmake and ninja, C headers under `/usr/include`, static `*.a` libraries,
`-dev` packages in the dpkg database, a Go toolchain under `/usr/local/go`, rustup and
cargo, and a JDK's compiler and build-only parts where a JRE would do. Fires when they
add up to 100 kB.

Fix: a multi-stage build that compiles in a build stage and copies only the artefacts
into the final one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import compress, repeat
from operator import or_

from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, Severity, top_paths
from inspector.formatting import size
from inspector.inspection import Inspection

ID = "build-tools"
TITLE = "Compilers and build-only files in the final image"
SEVERITY = Severity.WARNING
EXAMPLE = """\
RUN apt-get update && apt-get install -y build-essential libssl-dev && make -C /src"""
MIN_BYTES = 100_000
_ARCH = r"(?:[a-z0-9_]+-linux-gnu[a-z]*-)?"

KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(regex))
    for kind, regex in (
        ("gcc", rf"usr/(?:local/)?bin/{_ARCH}(?:gcc|g\+\+|c\+\+|cpp)(?:-[\d.]+)?$"),
        ("gcc", r"usr/(?:lib|libexec)/gcc/.+/(?:cc1|cc1plus|lto1|collect2)$"),
        ("clang", r"usr/(?:local/)?bin/clang(?:\+\+)?(?:-[\d.]+)?$|usr/lib/llvm-[\d.]+/bin/."),
        ("binutils", rf"usr/bin/{_ARCH}(?:ld|ld\.bfd|ld\.gold|as|objdump|objcopy|strip)$"),
        ("make", r"usr/(?:local/)?bin/(?:make|gmake|cmake|ninja)$|usr/share/cmake-[^/]+/."),
        ("headers", r"usr/(?:local/)?include/."),
        ("static libraries", r"(?:usr/)?(?:local/)?lib(?:64|32)?/.+\.a$"),
        ("go toolchain", r"usr/local/go/(?:bin|pkg/tool|src)/."),
        ("rust toolchain", r"(?:usr/local|root)/\.?rustup/.|(?:usr/local|root)/\.?cargo/bin/."),
        ("jdk", r"usr/lib/jvm/[^/]+/(?:bin/javac$|jmods/.|include/.|lib/src\.zip$|lib/ct\.sym$)"),
    )
)
_DEV_PACKAGE = re.compile(r"var/lib/dpkg/info/([^/:]+-dev)(?::[^/]+)?\.list$")


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    matched: dict[str, int] = {}
    kinds: dict[str, int] = {}
    layers: set[int] = set()
    packages: list[str] = []
    visible = facts.visible_where(_first_test)
    for path in visible:
        package = _DEV_PACKAGE.match(path)
        if package is not None:
            packages.append(package.group(1))
            continue
        kind = _kind(path)
        if kind is None:
            continue
        position = visible[path]
        file_bytes = facts.entries[position][path].size
        matched[path] = file_bytes
        kinds[kind] = kinds.get(kind, 0) + file_bytes
        layers.add(position)
    total = sum(matched.values())
    if total < MIN_BYTES:
        return []
    paths, count = top_paths(matched)
    parts = [
        f"{kind} ({size(bytes_)})" for kind, bytes_ in sorted(kinds.items(), key=lambda k: -k[1])
    ]
    if packages:
        names = ", ".join(sorted(packages)[:5]) + (" …" if len(packages) > 5 else "")
        parts.append(f"{len(packages)} -dev packages ({names})")
    evidence = f"the final file system holds {', '.join(parts)}"
    return [
        Finding(
            ID,
            TITLE,
            SEVERITY,
            total,
            tuple(facts.layer_ref(i) for i in sorted(layers)),
            paths,
            count,
            evidence,
            Fix(
                "Build in a separate stage and copy only the artefacts into the final image",
                (),
                (
                    "FROM BASE AS build",
                    "RUN <install the toolchain and build>",
                    "FROM RUNTIME-BASE",
                    "COPY --from=build /path/to/artefact /path/to/artefact",
                ),
            ),
        )
    ]


_ANY = re.compile("|".join(f"(?P<k{i}>{regex.pattern})" for i, (_, regex) in enumerate(KINDS)))
# every path `_DEV_PACKAGE` or a kind matches starts with one of these, or (static
# libraries) ends with `.a` (before a newline, for `$`): tests/unit/
# test_findings_prefilters.py checks it. C-speed tests first, the patterns only after them.
STARTS = (
    "usr/bin/", "usr/local/bin/", "usr/lib/gcc/", "usr/libexec/gcc/", "usr/lib/llvm-",
    "usr/share/cmake-", "usr/include/", "usr/local/include/", "usr/local/go/",
    "usr/local/rustup/", "usr/local/.rustup/", "usr/local/cargo/bin/", "usr/local/.cargo/bin/",
    "root/", "usr/lib/jvm/", "var/lib/dpkg/info/",
)  # fmt: skip
ENDS = (".a", "\n")


def _first_test(paths: list[str]) -> Iterator[str]:
    """The paths that start with one of STARTS or end with one of ENDS."""
    # (the str methods mapped directly: a third faster than a methodcaller per path)
    starts = map(str.startswith, paths, repeat(STARTS))
    return compress(paths, map(or_, starts, map(str.endswith, paths, repeat(ENDS))))


def _kind(path: str) -> str | None:
    found = _ANY.match(path)
    if found is None or found.lastgroup is None:
        return None
    return KINDS[int(found.lastgroup[1:])][0]
