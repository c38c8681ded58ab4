"""jsontext: names that are not UTF-8 in the JSON reports, lossless and valid."""

from __future__ import annotations

import base64
import json

import pytest

from inspector.jsontext import name_bytes, name_fields, name_json, valid, valid_strings

RAW = b"dir/caf\xe9-\x9b\xff.txt"
NAME = RAW.decode("utf-8", "surrogateescape")


def test_a_name_that_is_not_utf8_gets_its_bytes_beside_a_valid_string() -> None:
    fields = name_fields("path", NAME)
    assert fields == {
        "path": "dir/caf\ufffd-\ufffd\ufffd.txt",
        "pathBytes": base64.b64encode(RAW).decode(),
    }
    assert base64.b64decode(fields["pathBytes"]) == RAW
    json.dumps(fields).encode("utf-8")
    assert "\\udc" not in json.dumps(fields)


@pytest.mark.parametrize(
    "name", ["plain", "caf\u00e9", "\x1b]52;c;eA==\x07", "\U0001f600", "%9B", ""]
)
def test_a_utf8_name_is_written_as_it_is(name: str) -> None:
    assert name_bytes(name) is None
    assert name_fields("path", name) == {"path": name}


@pytest.mark.parametrize("name", ["plain", "caf\u00e9", NAME, "\x1b[2J\udcff", 'a"b\\c'])
def test_name_json_is_json_dumps_of_name_fields(name: str) -> None:
    expected = json.dumps(name_fields("linkName", name), separators=(",", ":"))
    assert '{"linkName":' + name_json(name, "linkNameBytes") + "}" == expected


def test_a_surrogate_no_byte_gives_is_made_valid_without_bytes_to_recover() -> None:
    weird = "a\ud800b\udc9b"  # (a JSON escape in a config can hold a high surrogate)
    assert name_bytes(weird) == b"a\xef\xbf\xbdb\x9b"
    assert valid(weird) == "a\ufffdb\ufffd"


def test_valid_strings_fixes_keys_values_and_nested_lists() -> None:
    doc = {"labels": {"k\udc80": ["v\udcff", 1, None, "ok"]}, "n": 2.5}
    fixed = valid_strings(doc)
    assert fixed == {"labels": {"k\ufffd": ["v\ufffd", 1, None, "ok"]}, "n": 2.5}
    json.dumps(fixed, ensure_ascii=False).encode("utf-8")
