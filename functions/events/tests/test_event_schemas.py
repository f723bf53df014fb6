"""The events' JSON Schemas (kit/contracts/schemas/, generated from the contract types) hold for
every event this pattern's samples carry: the envelopes in event-relay's outbox records, the
details of order-review's bus events (whose contract-breaking sample the schema refuses too),
and the events customer-activity's samples were cut from."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "kit" / "contracts" / "schemas"


def schema_for(event: dict) -> dict | None:
    path = SCHEMAS / f"{event.get('type')}.v{event.get('version')}.json"
    return json.loads(path.read_text()) if path.exists() else None


def errors(event: dict) -> list[str]:
    schema = schema_for(event)
    assert schema is not None, f"no schema for {event.get('type')} v{event.get('version')}"
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(event)]


def test_each_schema_is_a_valid_json_schema_naming_its_type():
    files = sorted(SCHEMAS.glob("*.json"))
    assert files
    for path in files:
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert path.name == f"{schema['properties']['type']['const']}.v{schema['properties']['version']['const']}.json"


def outbox_envelopes() -> list[dict]:
    found = []
    for path in sorted((ROOT / "events" / "event-relay").glob("*.json")):
        for record in json.loads(path.read_text())["Records"]:
            text = record["dynamodb"].get("NewImage", {}).get("envelope", {}).get("S")
            if text:
                try:
                    found.append(json.loads(text))
                except json.JSONDecodeError:
                    pass  # the malformed record of malformed-record.json: not an event at all
    return found


@pytest.mark.parametrize("envelope", outbox_envelopes(), ids=lambda e: e["id"])
def test_every_event_relay_sample_event_fits_its_schema(envelope):
    if schema_for(envelope) is None:
        pytest.skip(f"{envelope['type']} is not an event of this project")
    assert errors(envelope) == []


def test_order_review_samples_fit_their_schema_and_the_poison_one_does_not():
    bodies = [json.loads(r["body"]) for r in json.loads((ROOT / "events" / "order-review" / "review-batch.json").read_text())["Records"]]
    details = [body["detail"] for body in bodies if "detail" in body]
    verdicts = {detail["data"].get("id"): errors(detail) for detail in details}
    assert verdicts.pop("o-3"), "the order that breaks its contract breaks its schema too"
    assert all(found == [] for found in verdicts.values()), verdicts


def field_in(schema: dict, path: list[str]) -> bool:
    """Whether the schema declares the field at `path` (following $ref to $defs)."""
    node = schema
    for name in path:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node = node.get("properties", {}).get(name)
        if node is None:
            return False
    return True


def test_every_field_the_rules_match_or_cut_is_in_the_schema_of_each_type_they_take():
    """A contract that renamed a field a rule reads would break the rule without a word: the
    template's patterns and input transformers, checked against the schemas."""
    from tools.shared.cfn import Template

    for rule in Template.read().event_rules():
        types = rule.pattern.get("detail-type", [])
        for event_type in types:
            schema = schema_for({"type": event_type, "version": 1})
            if schema is None:
                continue  # an event of a pattern this project does not have
            for name in rule.pattern.get("detail", {}).get("data", {}):
                assert field_in(schema, ["data", name]), f"{rule.name}: {event_type} has no data.{name}"
            for target in rule.targets:
                for path in target.properties.get("InputTransformer", {}).get("InputPathsMap", {}).values():
                    if path.startswith("$.detail."):
                        assert field_in(schema, path[len("$.detail."):].split(".")), f"{rule.name}: {event_type} has no {path}"
