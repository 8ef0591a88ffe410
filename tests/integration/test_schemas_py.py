# SPDX-License-Identifier: MIT
"""Cross-checks the payload schemas with an independent implementation.

Debian's python3-jsonschema (Draft202012Validator, with format checking)
must agree with every example under schemas/examples/, and must see exactly
one error in each invalid example (each breaks exactly one rule).  Every
schema must itself be valid against the 2020-12 metaschema, describe each
field, and be named by schemas/topics.json (and vice versa).

Debian's jsonschema checks "date-time" only when the unpackaged
rfc3339-validator module is present, so this file registers its own strict
RFC 3339 checker (regex + datetime), written independently of the C one.
"""

import datetime
import glob
import json
import os
import re

import pytest
from jsonschema import Draft202012Validator, FormatChecker

SRC = os.environ.get("SB_SOURCE_DIR",
                     os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SCHEMAS = os.path.join(SRC, "schemas")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

_RFC3339 = re.compile(
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]"
    r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})(?P<frac>\.[0-9]+)?"
    r"(?P<off>[Zz]|[+-][0-9]{2}:[0-9]{2})$")


def _rfc3339(value):
    if not isinstance(value, str):
        return True
    m = _RFC3339.match(value)
    if not m:
        return False
    h, mi, s = int(m["h"]), int(m["m"]), int(m["s"])
    off = m["off"].upper()
    sign, oh, om = 1, 0, 0
    if off != "Z":
        sign = 1 if off[0] == "+" else -1
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            return False
    try:
        datetime.date.fromisoformat(m["date"])
        datetime.time(h, mi, min(s, 59))
    except ValueError:
        return False
    if s == 60:  # leap second: only at 23:59:60 UTC
        return (h * 60 + mi - sign * (oh * 60 + om)) % 1440 == 23 * 60 + 59
    return s < 60


FORMATS = FormatChecker()
FORMATS.checks("date-time")(_rfc3339)


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _schema_files():
    return sorted(p for p in glob.glob(os.path.join(SCHEMAS, "*.json"))
                  if os.path.basename(p) != "topics.json")


def _examples():
    out = []
    for d in sorted(glob.glob(os.path.join(SCHEMAS, "examples", "*"))):
        stem = os.path.basename(d)
        for kind in ("valid", "invalid"):
            for p in sorted(glob.glob(os.path.join(d, kind, "*.json"))):
                out.append(pytest.param(stem, kind, p, id=f"{stem}/{kind}/{os.path.basename(p)}"))
    return out


def test_our_date_time_checker_is_strict():
    good = ["2024-02-29T12:00:00Z", "2024-06-01t10:00:00.5+02:00", "1998-12-31T23:59:60Z",
            "1998-12-31T15:59:60-08:00"]
    bad = ["2023-02-29T12:00:00Z", "2024-06-01 10:00:00Z", "2024-06-01T10:00:00",
           "2024-06-01T24:00:00Z", "2024-06-01T10:00:00.Z", "2024-06-01T10:00:00+0200",
           "2024-06-01T23:58:60Z", "2024-06-01T10:00:00+24:00", "yesterday"]
    assert [g for g in good if not _rfc3339(g)] == []
    assert [b for b in bad if _rfc3339(b)] == []


@pytest.mark.parametrize("path", _schema_files(), ids=os.path.basename)
def test_schema_is_valid_2020_12(path):
    schema = _load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_2020_12
    assert schema["$id"].endswith("/" + os.path.basename(path))
    assert schema.get("title") and schema.get("description")
    assert schema.get("additionalProperties") is False
    # a status record carries ts; a relayed Pusher API event is the
    # server SDK's data as it was sent (topics.json "relay")
    relays = {t["schema"] for t in _load(os.path.join(SCHEMAS, "topics.json"))["topics"]
              if t.get("relay")}
    if os.path.basename(path) not in relays:
        assert "ts" in schema["required"]

    def walk(node, where):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert isinstance(sub, dict) and sub.get("description"), \
                    f"{where}/properties/{name} has no description"
            for key, sub in node.items():
                walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}/{i}")
    walk(schema, "")


@pytest.mark.parametrize("stem,kind,path", _examples())
def test_example_agrees(stem, kind, path):
    validator = Draft202012Validator(_load(os.path.join(SCHEMAS, stem + ".json")),
                                     format_checker=FORMATS)
    errors = list(validator.iter_errors(_load(path)))
    if kind == "valid":
        assert errors == [], [e.message for e in errors]
    else:
        # each invalid example breaks exactly one rule
        assert len(errors) == 1, [e.message for e in errors]


def test_every_schema_has_examples_of_both_kinds():
    for path in _schema_files():
        stem = os.path.basename(path)[:-5]
        for kind in ("valid", "invalid"):
            found = glob.glob(os.path.join(SCHEMAS, "examples", stem, kind, "*.json"))
            assert len(found) >= 3, f"{stem}: only {len(found)} {kind} examples"
    for d in glob.glob(os.path.join(SCHEMAS, "examples", "*")):
        assert os.path.exists(os.path.join(SCHEMAS, os.path.basename(d) + ".json")), \
            f"examples for a schema that does not exist: {d}"


def test_topics_and_schemas_match():
    topics = _load(os.path.join(SCHEMAS, "topics.json"))["topics"]
    named = {t["schema"] for t in topics}
    present = {os.path.basename(p) for p in _schema_files()}
    missing = sorted(n for n in named if n not in present)
    assert missing == [], f"topics.json names schemas that do not exist: {missing}"
    unused = sorted(present - named)
    assert unused == [], f"schemas no topic uses: {unused}"
    # log-line.json serves deploy logs and the runtime logs of apps,
    # databases and services; pusher-event.json the Pusher API's relay
    assert len(topics) == 15 and len(named) == 12
