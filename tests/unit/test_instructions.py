"""A layer's Dockerfile instruction, as each builder writes it into the history."""

from __future__ import annotations

import pytest

from inspector.findings.facts import Instruction, instruction

HASH = "a" * 64


@pytest.mark.parametrize(
    ("created_by", "expected"),
    [
        ("/bin/sh -c apt-get update", Instruction("RUN", "RUN apt-get update")),
        ("RUN /bin/sh -c pip install x # buildkit", Instruction("RUN", "RUN pip install x")),
        ("RUN |2 A=1 B=2 /bin/sh -c make", Instruction("RUN", "RUN make")),
        ('/bin/sh -c #(nop)  CMD ["sh"]', Instruction("CMD", 'CMD ["sh"]')),
        (f"/bin/sh -c #(nop) COPY dir:{HASH} in /app ", Instruction("COPY", "COPY <dir> /app")),
        (
            f"/bin/sh -c #(nop) COPY --chown=1:1 file:{HASH} in /a/b ",
            Instruction("COPY", "COPY --chown=1:1 <file> /a/b"),
        ),
        ("COPY . . # buildkit", Instruction("COPY", "COPY . .")),
        ("ADD https://x/y.tgz /opt", Instruction("ADD", "ADD https://x/y.tgz /opt")),
        ("", Instruction("", "")),
        ("imported from tarball", Instruction("", "imported from tarball")),
    ],
)
def test_instruction(created_by: str, expected: Instruction) -> None:
    assert instruction(created_by) == expected


def test_body_is_the_text_after_the_keyword() -> None:
    assert instruction("/bin/sh -c rm -rf /x").body == "rm -rf /x"
    assert instruction("").body == ""
