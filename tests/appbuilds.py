"""App v1 and v2, built by the real Docker engine in two orders (the diff's test images).

*bad order*: `COPY . /app` before the dependency install, so v2's one changed source line
misses the build cache from the COPY on: the install and everything after it run again.
*good order*: the manifest copied and installed first, then the sources, so v2 reuses
every layer up to the last COPY.

The install writes the same bytes every time it runs (`dd` from /dev/zero) but with a new
modification time, so a rebuilt install layer has identical content in a new blob: the
layer the diff calls rebuilt-identical. v2 is built with `--cache-from` v1, so it reuses
v1's layers even when v1 came from the factory's archive cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import services

REQUIREMENTS = b"requests==2.32.3\nflask==3.0.3\n"
INSTALL_BYTES = 200 * 1024
INSTALL = (
    'RUN echo "pip install -r /app/requirements.txt" '
    f"&& dd if=/dev/zero of=/deps.bin bs=1k count={INSTALL_BYTES // 1024}"
)
AFTER = "RUN mkdir -p /var/log/app"
BAD = f"COPY . /app\n{INSTALL}\n{AFTER}"
GOOD = f"COPY requirements.txt /app/\n{INSTALL}\n{AFTER}\nCOPY . /app"
CHANGED_PATH = "app/app.py"


def sources(version: int) -> dict[str, bytes]:
    """The build context; v2 changes one line of app.py."""
    body = "".join(f"def handler_{i}():\n    return {i}\n\n" for i in range(40))
    return {
        "requirements.txt": REQUIREMENTS,
        "app.py": f"{body}VERSION = {version}\n".encode(),
        "lib/util.py": b"def helper():\n    return 'same in both'\n" * 20,
    }


@dataclass(frozen=True, slots=True)
class AppBuilds:
    bad_v1: services.BuiltImage
    bad_v2: services.BuiltImage
    good_v1: services.BuiltImage
    good_v2: services.BuiltImage


def build(factory: services.ImageFactory) -> AppBuilds:
    """The four images (cached by the factory like every test image)."""
    bad_v1 = factory.build("diff-bad-v1", BAD, sources(1))
    bad_v2 = factory.build("diff-bad-v2", BAD, sources(2), cache_from=[bad_v1.name])
    good_v1 = factory.build("diff-good-v1", GOOD, sources(1))
    good_v2 = factory.build("diff-good-v2", GOOD, sources(2), cache_from=[good_v1.name])
    return AppBuilds(bad_v1, bad_v2, good_v1, good_v2)
