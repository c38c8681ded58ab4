"""Display text: the one sanitizer between image-supplied text and a person's terminal.

An image is untrusted input. File names, tags, history commands, labels, environment values
and link targets can hold escape sequences (`ESC[2J` clears a screen, `OSC 52` writes the
clipboard), newlines that forge table rows, and bidi overrides that reorder what is read.
Every string from an image that reaches a terminal (text reports, the CI summary, the UI,
warnings and error lines on stderr) passes through `clean` or `one_line`; nothing else in
the code base escapes characters for display.

What `clean` changes, in the manner of `ls --quoting-style=escape` and git's quoted paths:

* C0 controls and DEL: `\\n`, `\\t`, `\\r`, else `\\xNN` (`ESC` is `\\x1b`);
* C1 controls (U+0080–U+009F): `\\xNN`;
* a byte that was not UTF-8 (decoded with `surrogateescape` as U+DC80–U+DCFF): `\\xNN`,
  the byte itself;
* every other character that Python does not call printable (format characters such as the
  bidi overrides U+202A–U+202E and U+2066–U+2069, zero-width characters, line and paragraph
  separators, other lone surrogates, unassigned code points): `\\uXXXX` or `\\UXXXXXXXX`.

Printable text, spaces and backslashes included, is left as it is. `clean_text` does the
same for text of many lines (a file's contents): line breaks and tabs stay. The JSON reports
keep exact values instead (see `inspector.jsontext`).
"""

from __future__ import annotations

ERROR_LIMIT = 500
"""The longest error or warning line `one_line` gives, in characters."""

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def clean(text: str) -> str:
    """`text` with every character a terminal could act on written as a visible escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean_text(text: str) -> str:
    """Text of many lines (a file shown in the viewer), each line `clean`ed: line feeds and
    tabs stay, a carriage return that ends a line (`\\r\\n`) is dropped as a terminal
    shows it, and every other control character becomes a visible escape."""
    if text.isprintable():
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.isprintable():
            line = line.removesuffix("\r")
            lines[i] = "\t".join(map(clean, line.split("\t")))
    return "\n".join(lines)


def one_line(text: str, limit: int = ERROR_LIMIT) -> str:
    """`text` as one clean line of at most `limit` characters (errors, warnings).

    A longer line keeps its start and its end around an ellipsis, so both the input named
    first and the reason given last stay readable.
    """
    shown = clean(text)
    if len(shown) <= limit:
        return shown
    head = (limit - 1) * 2 // 3
    tail = limit - 1 - head
    return f"{shown[:head]}…{shown[len(shown) - tail :]}"
