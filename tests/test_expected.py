"""tests/expected/: the one source of the sample events' expected answers, and the Python reading
of it that make sam-local uses (kit/test-support/src/expected.rs is the Rust one; these
cases are the same as its unit tests)."""

from __future__ import annotations

import pytest

from tools.sam_local import expected
from tools.shared.cfn import Template

TEMPLATE = Template.read()


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.functions()))
def test_every_function_has_an_expected_answer_for_each_of_its_sample_events(logical_id):
    folder = TEMPLATE.binary(logical_id)
    found = expected.expectations(folder)  # refuses a file without an entry, or an entry without a file
    assert found and all(item.answer for item in found)


def test_an_http_answer_is_matched_by_status_header_and_body_pointer():
    answer = {"statusCode": 201, "headers": {"Location": "/things/1"}, "body": '{"total": 3000}'}
    ok = {"/statusCode": 201, "/headers/location": {"$starts_with": "/things/"}, "/body/total": 3000}
    assert expected.mismatches(ok, answer) == []
    wrong = {"/statusCode": 200, "/body/total": 3001, "/headers/allow": "GET"}
    assert len(expected.mismatches(wrong, answer)) == 3


def test_rest_api_headers_and_base64_bodies_are_read_too():
    answer = {"statusCode": 200, "multiValueHeaders": {"content-type": ["application/json"]}, "body": "eyJpZCI6IDd9", "isBase64Encoded": True}
    assert expected.mismatches({"/headers/content-type": "application/json", "/body/id": 7}, answer) == []


def test_same_as_first_compares_with_the_first_answer_and_absent_means_nothing_there():
    first = {"batchItemFailures": [], "id": "a"}
    same = {"/id": {"$same_as_first": True}}
    assert expected.mismatches(same, {"id": "a"}, first) == []
    assert len(expected.mismatches(same, {"id": "b"}, first)) == 1
    assert len(expected.mismatches(same, {}, {})) == 1
    assert expected.mismatches({"/errors/1": {"$absent": True}}, {"errors": [1]}) == []
    assert len(expected.mismatches({"/errors/0": {"$absent": True}}, {"errors": [1]})) == 1


def test_a_number_is_not_a_boolean_and_null_is_not_absent():
    assert len(expected.mismatches({"/ok": 1}, {"ok": True})) == 1
    assert expected.mismatches({"": None}, None) == []
    assert len(expected.mismatches({"/x": None}, {})) == 1
