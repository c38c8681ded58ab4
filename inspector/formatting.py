"""Small display conventions shared by the text report, the CI report and the UI."""

from __future__ import annotations

import humanize


def size(n: int | None) -> str:
    """Bytes as dive shows them: SI units (`32 kB`, `1.2 MB`)."""
    if n is None:
        return "?"
    text = humanize.naturalsize(abs(n), format="%.1f")
    text = text.replace(".0 ", " ").replace(" Bytes", " B").replace(" Byte", " B")
    return f"-{text}" if n < 0 else text


def signed_size(n: int) -> str:
    return f"+{size(n)}" if n > 0 else size(n)


def command(created_by: str) -> str:
    """A history command without the shell wrapper: `/bin/sh -c #(nop) ` and friends."""
    text = created_by.strip()
    for prefix in ("/bin/sh -c ", "|1 /bin/sh -c ", "/bin/bash -c ", "/bin/sh -o pipefail -c "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if text.startswith("#(nop)"):
        text = text[len("#(nop)") :].strip()
    return " ".join(text.split())


def dive_command(created_by: str) -> str:
    """dive's rendering: only a leading `/bin/sh -c ` is removed."""
    return created_by.removeprefix("/bin/sh -c ")


def percent(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value * 100:.4f} %"


def mode_string(mode: int, is_dir: bool) -> str:
    chars = ["d" if is_dir else "-"]
    for shift, special, letter in ((6, 0o4000, "s"), (3, 0o2000, "s"), (0, 0o1000, "t")):
        bits = (mode >> shift) & 7
        chars.append("r" if bits & 4 else "-")
        chars.append("w" if bits & 2 else "-")
        if mode & special:
            chars.append(letter if bits & 1 else letter.upper())
        else:
            chars.append("x" if bits & 1 else "-")
    return "".join(chars)


def count(n: int, noun: str) -> str:
    """`1 file`, `2 files`: a number and a noun that agrees with it."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
