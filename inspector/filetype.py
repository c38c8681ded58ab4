"""What kind of file some bytes are, from their first bytes (like `file(1)`, for a few types).

Only formats common in images: executables and libraries, archives and compressed data,
images, documents and databases. Text is told apart from binary data here too.
"""

from __future__ import annotations

from typing import Literal

_ELF_TYPES = {1: "relocatable", 2: "executable", 3: "shared object", 4: "core file"}
_ELF_MACHINES = {
    3: "x86",
    8: "MIPS",
    20: "PowerPC",
    21: "PowerPC64",
    22: "s390",
    40: "ARM",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
}
# (offset, magic, description), first match wins
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x1f\x8b", "gzip compressed data"),
    (0, b"\x28\xb5\x2f\xfd", "zstd compressed data"),
    (0, b"\xfd7zXZ\x00", "xz compressed data"),
    (0, b"BZh", "bzip2 compressed data"),
    (0, b"PK\x03\x04", "zip archive (also jar, wheel, apk)"),
    (0, b"PK\x05\x06", "zip archive (empty)"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG image"),
    (0, b"\xff\xd8\xff", "JPEG image"),
    (0, b"GIF8", "GIF image"),
    (0, b"%PDF-", "PDF document"),
    (0, b"SQLite format 3\x00", "SQLite database"),
    (0, b"\x00asm", "WebAssembly module"),
    (0, b"\xca\xfe\xba\xbe", "Java class file or Mach-O universal binary"),
    (0, b"\xcf\xfa\xed\xfe", "Mach-O 64-bit binary"),
    (0, b"MZ", "DOS/Windows executable (PE)"),
    (0, b"!<arch>\n", "ar archive (static library or .deb)"),
    (0, b"\xed\xab\xee\xdb", "RPM package"),
    (257, b"ustar", "tar archive"),
    (0, b"#!", "script"),
)


def _elf(head: bytes) -> str:
    bits = {1: "32-bit", 2: "64-bit"}.get(head[4], "") if len(head) > 4 else ""
    order: Literal["little", "big"] = "little" if len(head) > 5 and head[5] == 1 else "big"
    kind = machine = ""
    if len(head) >= 20:
        kind = _ELF_TYPES.get(int.from_bytes(head[16:18], order), "")
        number = int.from_bytes(head[18:20], order)
        machine = _ELF_MACHINES.get(number, f"machine {number}")
    return " ".join(part for part in ("ELF", bits, kind, machine) if part)


def is_text(data: bytes) -> bool:
    """True if `data` reads as UTF-8 text (judged on its first 8 KiB)."""
    sample = data[:8192]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # only a character cut at the sample's end
    return True


def describe(data: bytes) -> str:
    """A short description of `data` from its first bytes: `ELF 64-bit executable x86-64`."""
    if not data:
        return "empty"
    if data.startswith(b"\x7fELF"):
        return _elf(data[:20])
    for offset, magic, text in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            if text == "script":
                line = data[2:].split(b"\n", 1)[0].strip().decode("utf-8", "replace")[:60]
                return f"script ({line})" if line else "script"
            return text
    return "text" if is_text(data) else "data"
