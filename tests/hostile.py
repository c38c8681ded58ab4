"""An image whose every text field tries to drive the terminal that shows it.

File names, a link target, a history command, labels, env values, a tag and a file's
contents carry escape sequences (`ESC[2J` clears the screen, `OSC 0` sets the window
title, `OSC 52` writes the clipboard), a newline (a forged table row), a bidi override,
a C1 CSI, bytes that are not UTF-8 and Rich markup. Each payload carries a marker of its
own, so a test that finds one raw in some output knows where it leaked from.

`hostile_archive(path)` writes it as a real `docker save` archive (tests/imagebuilder.py).
The first layer stores the files, the second deletes them: they are all wasted files too.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from imagebuilder import BuiltImage, Dir, File, Layer, Op, Raw, Symlink, Whiteout, build_image
from imagebuilder import docker_save_legacy as _docker_save_legacy

ESC = "\x1b"
BEL = "\x07"
# the raw sequences, each with the text that follows it in the name (the marker)
CLEAR = f"{ESC}[2J"
CLEAR_NAME = f"clear{CLEAR}screen"
TITLE_NAME = f"title{ESC}]0;PWNED-TITLE{BEL}"
CLIPBOARD_NAME = f"clip{ESC}]52;c;Q0xJUEJPQVJE{BEL}"  # base64 of CLIPBOARD
NEWLINE_NAME = "forged\n  9.9 MB       1       2  deleted         shadow"  # (no "/")
BIDI_NAME = "invoice\u202etxt.exe"
C1_NAME = "csi\x9b31mred"  # U+009B: a C1 CSI, valid UTF-8 (C2 9B)
MARKUP_NAME = "[red]markup"
CLICK_NAME = "[@click=app.quit]click"
NOT_UTF8 = b"latin\xe9-\x9b-name"  # a raw 0x9B byte: a CSI to an 8-bit terminal
NOT_UTF8_NAME = NOT_UTF8.decode("utf-8", "surrogateescape")
LINK_TARGET = f"target{ESC}]52;c;TElOSw=={BEL}"
CONTENTS = (
    f"line one\n{ESC}[2Jcontent-clear\n{ESC}]52;c;Q09OVEVOVA=={BEL}\n"
    f"{ESC}]0;CONTENT-TITLE{BEL}\nlast line\n"
).encode()
COMMAND = f"/bin/sh -c rm -rf /hostile {ESC}]0;LAYER-TITLE{BEL} {ESC}]52;c;TEFZRVI={BEL}"
LABELS = {
    f"label{ESC}]0;LABEL-TITLE{BEL}": f"value{ESC}]52;c;TEFCRUw={BEL}",
    "[bold]markup-label": "[@click=app.quit]x",
}
ENV = [f"EVIL=env{ESC}]52;c;RU5W{BEL}", f"CLEAR=env{CLEAR}env-clear"]
TAG = f"hostile/image:v1{ESC}]0;TAG-TITLE{BEL}"
# a whiteout that names nothing (a warning; last in name order, as dive stops there)
GHOST = f"zz-ghost{ESC}]0;WARN-TITLE{BEL}"

NAMES = (
    CLEAR_NAME,
    TITLE_NAME,
    CLIPBOARD_NAME,
    NEWLINE_NAME,
    BIDI_NAME,
    C1_NAME,
    MARKUP_NAME,
    CLICK_NAME,
    NOT_UTF8_NAME,
)
CONTENTS_NAME = "contents.txt"
LINK_NAME = "link"

# What must never reach a terminal raw, anywhere: each is the image's own (output is
# decoded with surrogateescape first, so a stray byte 0x9B shows as U+DC9B)
PAYLOADS: tuple[str, ...] = (
    f"{CLEAR}screen",
    f"{CLEAR}content-clear",
    f"{CLEAR}env-clear",
    f"{ESC}]0;",  # a window title
    f"{ESC}]52;",  # the clipboard
    "\x9b",  # a C1 CSI (as a character)
    "\udc9b",  # … and as a byte that is not UTF-8
    "\udce9",
    "\u202e",
    "\n  9.9 MB",  # a forged row of a table
)
# How a person sees some of them instead (display.clean)
SHOWN = (
    "clear\\x1b[2Jscreen",
    "title\\x1b]0;PWNED-TITLE\\x07",
    "clip\\x1b]52;c;Q0xJUEJPQVJE\\x07",
    "forged\\n  9.9 MB",
    "invoice\\u202etxt.exe",
    "csi\\x9b31mred",
    "[red]markup",
    "[@click=app.quit]click",
    "latin\\xe9-\\x9b-name",
)  # (in the order of NAMES)


def leaks(output: bytes | str) -> list[str]:
    """The payloads found raw in `output` (bytes are decoded with surrogateescape)."""
    text = output.decode("utf-8", "surrogateescape") if isinstance(output, bytes) else output
    return [payload for payload in PAYLOADS if payload in text]


DIR = "hostile"


def layers() -> tuple[Layer, Layer]:
    ops: list[Op] = [Dir(DIR)]
    for i, name in enumerate(NAMES):
        if name == NOT_UTF8_NAME:
            continue
        ops.append(File(f"{DIR}/{name}", 1000 + i))
    # PAX would write the raw name in a `hdrcharset=BINARY` record; GNU writes it as is
    ops.append(Raw(f"{DIR}/{NOT_UTF8_NAME}", tarfile.REGTYPE, b"x" * 2000))
    ops.append(File(f"{DIR}/{CONTENTS_NAME}", CONTENTS))
    ops.append(Symlink(f"{DIR}/{LINK_NAME}", LINK_TARGET))
    first = Layer(
        ops, created_by="/bin/sh -c #(nop) ADD hostile /hostile", format=tarfile.GNU_FORMAT
    )
    second = Layer(
        [*(Whiteout(f"{DIR}/{name}") for name in NAMES), Whiteout(f"{DIR}/{GHOST}")],
        created_by=COMMAND,
        format=tarfile.GNU_FORMAT,
    )
    return first, second


def _config(doc: dict[str, Any]) -> None:
    doc["config"]["Labels"] = LABELS
    doc["config"]["Env"] = [*doc["config"]["Env"], *ENV]


def image() -> BuiltImage:
    return build_image(*layers(), tags=(TAG,)).with_config(_config)


def archive_bytes() -> bytes:
    """The image as a `docker save` (Docker ≤ 24) archive."""
    return _docker_save_legacy(image())


def hostile_archive(path: Path) -> Path:
    path.write_bytes(archive_bytes())
    return path
