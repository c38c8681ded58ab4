"""display: the one sanitizer between image-supplied text and a terminal."""

from __future__ import annotations

import hostile
import pytest

from inspector.display import clean, clean_text, one_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain name.txt", "plain name.txt"),
        ("back\\slash and ünïcödé ✓", "back\\slash and ünïcödé ✓"),
        (hostile.CLEAR_NAME, "clear\\x1b[2Jscreen"),
        (hostile.TITLE_NAME, "title\\x1b]0;PWNED-TITLE\\x07"),
        (hostile.CLIPBOARD_NAME, "clip\\x1b]52;c;Q0xJUEJPQVJE\\x07"),
        ("a\nb\tc\rd\x7f", "a\\nb\\tc\\rd\\x7f"),
        (hostile.BIDI_NAME, "invoice\\u202etxt.exe"),
        (hostile.C1_NAME, "csi\\x9b31mred"),
        (hostile.NOT_UTF8_NAME, "latin\\xe9-\\x9b-name"),
        ("zero\u200bwidth\u2028line", "zero\\u200bwidth\\u2028line"),
        (hostile.MARKUP_NAME, "[red]markup"),  # markup is the UI's business (Text)
    ],
)
def test_clean_writes_what_a_terminal_acts_on_as_visible_escapes(text: str, expected: str) -> None:
    assert clean(text) == expected
    assert clean(text).isprintable()


def test_clean_text_keeps_lines_and_tabs_and_cleans_the_rest() -> None:
    text = hostile.CONTENTS.decode() + "tab\there\r\nmid\rline\n"
    shown = clean_text(text)
    assert shown.split("\n") == [
        "line one",
        "\\x1b[2Jcontent-clear",
        "\\x1b]52;c;Q09OVEVOVA==\\x07",
        "\\x1b]0;CONTENT-TITLE\\x07",
        "last line",
        "tab\there",  # a tab stays; a CR before a line feed is the line's end
        "mid\\rline",  # any other CR is shown
        "",
    ]
    assert not hostile.leaks(shown)
    assert clean_text("two\nlines\n") == "two\nlines\n"


def test_one_line_is_clean_and_keeps_both_ends_of_a_long_line() -> None:
    line = one_line("start " + hostile.CLEAR_NAME * 100 + " the reason", limit=80)
    assert len(line) == 80
    assert line.startswith("start clear\\x1b[2J")
    assert line.endswith("the reason")
    assert "\x1b" not in line
