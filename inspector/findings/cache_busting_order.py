"""`cache-busting-order`: the whole build context is copied before the dependencies are
installed, so every source edit installs them again.

Fires when a COPY or ADD layer brings a dependency manifest (requirements*.txt,
pyproject.toml and its lock files, package.json and its lock files, go.mod/go.sum,
Gemfile, composer.json, pom.xml, build.gradle…) together with other files, and a later
RUN installs from it (pip, poetry, uv, pipenv, npm, yarn, pnpm, go mod, bundle, composer,
maven, gradle). `bytes` is the stored bytes rebuilt and pushed again per source edit;
the evidence gives what the fixed order would rebuild.

Fix: copy the manifests first, install, then copy the rest.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from itertools import compress, repeat

from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, Severity, top_paths
from inspector.formatting import size
from inspector.inspection import Inspection

ID = "cache-busting-order"
TITLE = "Dependencies installed after the whole source is copied"
SEVERITY = Severity.WARNING
EXAMPLE = """\
COPY . /app
RUN pip install -r /app/requirements.txt"""


@dataclass(frozen=True, slots=True)
class Ecosystem:
    """A dependency ecosystem: its manifests' file names (`manifest` searches a file's
    name; every name it finds ends with one of `ends`, or with a newline after one, a
    C-speed test first) and the commands that install from them."""

    name: str
    manifest: re.Pattern[str]
    ends: tuple[str, ...]
    install: re.Pattern[str]


ECOSYSTEMS = (
    Ecosystem(
        "Python",
        re.compile(
            r"requirements[^/]*\.txt$|pyproject\.toml$|poetry\.lock$|uv\.lock$|Pipfile(?:\.lock)?$"
            r"|setup\.(?:py|cfg)$"
        ),
        (".txt", "pyproject.toml", ".lock", "Pipfile", "setup.py", "setup.cfg"),
        re.compile(
            r"\b(?:pip3?|python3? -m pip) install\b|\bpoetry install\b"
            r"|\buv (?:pip install|sync)\b|\bpipenv install\b"
        ),
    ),
    Ecosystem(
        "Node.js",
        re.compile(r"package(?:-lock)?\.json$|yarn\.lock$|pnpm-lock\.yaml$|npm-shrinkwrap\.json$"),
        ("package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "shrinkwrap.json"),
        re.compile(r"\b(?:npm (?:ci|install|i)|yarn(?: install)?|pnpm (?:install|i))\b"),
    ),
    Ecosystem(
        "Go",
        re.compile(r"go\.(?:mod|sum)$"),
        ("go.mod", "go.sum"),
        re.compile(r"\bgo mod download\b"),
    ),
    Ecosystem(
        "Ruby",
        re.compile(r"Gemfile(?:\.lock)?$"),
        ("Gemfile", "Gemfile.lock"),
        re.compile(r"\bbundle(?: install)?\b"),
    ),
    Ecosystem(
        "PHP",
        re.compile(r"composer\.(?:json|lock)$"),
        ("composer.json", "composer.lock"),
        re.compile(r"\bcomposer install\b"),
    ),
    Ecosystem(
        "Java",
        re.compile(r"pom\.xml$|(?:build|settings)\.gradle(?:\.kts)?$"),
        ("pom.xml", ".gradle", ".gradle.kts"),
        re.compile(r"\bmvn\b.*\b(?:dependency:|install|package|verify)|\bgradle\w*\b"),
    ),
)


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    found = []
    steps = facts.instructions
    stored = facts.stored_sizes
    # the installs first (a few commands): a layer's files are read only when a later
    # step installs from the manifests it might bring
    installs = [
        (later, ecosystem)
        for later, step in enumerate(steps)
        if step.keyword == "RUN"
        for ecosystem in ECOSYSTEMS
        if ecosystem.install.search(step.body)
    ]
    for position, step in enumerate(steps):
        if step.keyword not in ("COPY", "ADD"):
            continue
        wanted: dict[Ecosystem, int] = {}
        for later, ecosystem in installs:
            if later > position:
                wanted.setdefault(ecosystem, later)
        if not wanted:
            continue
        files = facts.files[position]
        entries = facts.entries[position]
        ends = (*(end for e in wanted for end in e.ends), "\n")
        named = [
            (path, path.rpartition("/")[2])
            for path in compress(files, map(str.endswith, files, repeat(ends)))
        ]
        for ecosystem, install in wanted.items():
            manifest = ecosystem.manifest.search
            manifests = [entries[path] for path, name in named if manifest(name)]
            if not manifests or len(manifests) == len(files):
                continue  # no manifest, or only manifests: the order is already right
            rebuilt = sum(stored[position:])
            fixed = stored[position] + sum(stored[install + 1 :])
            names = sorted({posixpath.basename(e.path) for e in manifests})
            paths, count = top_paths({e.path: e.size for e in manifests})
            others = len(files) - len(manifests)
            evidence = (
                f"{facts.shown(position)} brings {', '.join(names)} with {others} other files, "
                f"and {facts.shown(install)} installs from it: a source edit rebuilds and "
                f"pushes {size(rebuilt)} in {len(steps) - position} layers, where copying the "
                f"manifests first would rebuild {size(fixed)}"
            )
            copy = f"COPY {' '.join(names)} ./"
            found.append(
                Finding(
                    ID,
                    f"{TITLE} ({ecosystem.name})",
                    SEVERITY,
                    rebuilt,
                    (facts.layer_ref(position), facts.layer_ref(install)),
                    paths,
                    count,
                    evidence,
                    Fix(
                        "Copy the dependency manifests first, install, then copy the rest",
                        (step.text, steps[install].text),
                        (copy, steps[install].text, step.text),
                    ),
                )
            )
    return found
