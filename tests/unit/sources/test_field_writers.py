"""The ats_field writers (integrations/sources/greenhouse.py and ashby.py) against a loopback HTTP
server (pytest-httpserver): the request each sends, and each documented error answer mapped as
services/writeback.py expects (False: gone; CredentialsRefused; FieldRefused; RetryableError with
the Retry-After)."""
from __future__ import annotations

import base64
import json

import pytest
from werkzeug import Response

from chalicelib.domain.errors import CredentialsRefused, FieldRefused, RetryableError
from chalicelib.domain.records import SourceCredentials
from chalicelib.domain.vendors import FieldTarget
from integrations.sources import ashby, greenhouse

KEY = "harvest-key-1234"
BASIC = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
LINK = "https://hub.example.test/r/acme.Zm9vYmFy"
GREENHOUSE = FieldTarget(application_id="app-9", candidate_id="60304594", field="career_relay_link", on_behalf_of="92120")
ASHBY = FieldTarget(application_id="3ae2b801-19f6-41ef-ad28-214bd731948f", candidate_id="c-1", field="f-1234", on_behalf_of=None)
PATH = "/v1/candidates/60304594"


@pytest.fixture
def api(httpserver, loopback_egress):
    """A vendor API as the hub builds it (wiring.vendor_api: auth headers, egress policy), on loopback."""
    from chalicelib import wiring

    def build(source):
        return wiring.vendor_api(source, SourceCredentials(webhook_secrets=(), api_key=KEY, api_base_url=httpserver.url_for("/")))
    return build


def only_request(httpserver):
    [(request, _)] = httpserver.log
    return request


# -- Greenhouse: PATCH /v1/candidates/{id} ---------------------------------------------------------

def test_greenhouse_patches_the_candidates_custom_field_as_the_on_behalf_of_user(api, httpserver):
    httpserver.expect_request(PATH, method="PATCH").respond_with_json({"id": 60304594})
    assert greenhouse.write_field(api(greenhouse), GREENHOUSE, LINK) is True
    request = only_request(httpserver)
    assert request.method == "PATCH" and request.path == PATH
    assert request.headers["On-Behalf-Of"] == "92120" and request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.data) == {"custom_fields": [{"name_key": "career_relay_link", "value": LINK}]}


def test_greenhouse_404_is_a_gone_candidate(api, httpserver):
    httpserver.expect_request(PATH, method="PATCH").respond_with_json({"message": "Resource not found"}, status=404)
    assert greenhouse.write_field(api(greenhouse), GREENHOUSE, LINK) is False


@pytest.mark.parametrize("code", [401, 403])
def test_greenhouse_401_and_403_are_refused_credentials(api, httpserver, code):
    httpserver.expect_request(PATH, method="PATCH").respond_with_json({"message": "Invalid Basic Auth credentials"}, status=code)
    with pytest.raises(CredentialsRefused) as refused:
        greenhouse.write_field(api(greenhouse), GREENHOUSE, LINK)
    assert KEY not in str(refused.value) and LINK not in str(refused.value)


def test_greenhouse_422_is_a_refused_field(api, httpserver):
    httpserver.expect_request(PATH, method="PATCH").respond_with_json(
        {"errors": [{"message": "Custom field not found", "field": "custom_fields"}]}, status=422)
    with pytest.raises(FieldRefused):
        greenhouse.write_field(api(greenhouse), GREENHOUSE, LINK)


def test_greenhouse_429_is_retryable_after_its_retry_after(api, httpserver):
    httpserver.expect_request(PATH, method="PATCH").respond_with_response(
        Response('{"message": "Too Many Requests"}', status=429, headers={"Retry-After": "7"}))
    with pytest.raises(RetryableError) as busy:
        greenhouse.write_field(api(greenhouse), GREENHOUSE, LINK)
    assert busy.value.retry_after_s == 7


def test_greenhouse_without_the_candidate_field_or_user_refuses_before_calling(api, httpserver):
    for target in (FieldTarget("a", None, "f", "1"), FieldTarget("a", "1", None, "1"), FieldTarget("a", "1", "f", None)):
        with pytest.raises(FieldRefused):
            greenhouse.write_field(api(greenhouse), target, LINK)
    assert not httpserver.log


# -- Ashby: POST /customField.setValue -------------------------------------------------------------

@pytest.mark.parametrize("target, kind, object_id", [
    (ASHBY, "Candidate", "c-1"),  # the candidate's field: the one Ashby's mail templates can show
    (FieldTarget(application_id=ASHBY.application_id, candidate_id=None, field="f-1234", on_behalf_of=None),
     "Application", ASHBY.application_id)])
def test_ashby_sets_the_candidates_custom_field_or_else_the_applications(api, httpserver, target, kind, object_id):
    httpserver.expect_request("/customField.setValue", method="POST").respond_with_json(
        {"success": True, "results": {"id": object_id}})
    assert ashby.write_field(api(ashby), target, LINK) is True
    request = only_request(httpserver)
    assert request.headers["Authorization"] == BASIC
    assert json.loads(request.data) == {"objectType": kind, "objectId": object_id, "fieldId": "f-1234", "fieldValue": LINK}


@pytest.mark.parametrize("answer", [
    Response("", status=404),
    Response(json.dumps({"success": False, "errors": ["application_not_found"]}), status=200, content_type="application/json"),
])
def test_ashby_a_gone_application_is_false(api, httpserver, answer):
    httpserver.expect_request("/customField.setValue", method="POST").respond_with_response(answer)
    assert ashby.write_field(api(ashby), ASHBY, LINK) is False


@pytest.mark.parametrize("errors", [["custom_field_not_found_on_object"], ["custom_field_not_found"], ["invalid_input"]])
def test_ashby_a_refused_field_value_is_a_refused_field(api, httpserver, errors):
    """Ashby answers errors with HTTP 200 and success: false; one about the field is never 'gone'."""
    httpserver.expect_request("/customField.setValue", method="POST").respond_with_json({"success": False, "errors": errors})
    with pytest.raises(FieldRefused):
        ashby.write_field(api(ashby), ASHBY, LINK)


def test_ashby_422_is_a_refused_field_as_greenhouses(api, httpserver):
    httpserver.expect_request("/customField.setValue", method="POST").respond_with_json({"message": "unprocessable"}, status=422)
    with pytest.raises(FieldRefused):
        ashby.write_field(api(ashby), ASHBY, LINK)


@pytest.mark.parametrize("code", [401, 403])
def test_ashby_401_and_403_are_refused_credentials(api, httpserver, code):
    httpserver.expect_request("/customField.setValue", method="POST").respond_with_json({"success": False}, status=code)
    with pytest.raises(CredentialsRefused):
        ashby.write_field(api(ashby), ASHBY, LINK)


def test_ashby_429_is_retryable_after_its_retry_after(api, httpserver):
    httpserver.expect_request("/customField.setValue", method="POST").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "12"}))
    with pytest.raises(RetryableError) as busy:
        ashby.write_field(api(ashby), ASHBY, LINK)
    assert busy.value.retry_after_s == 12


def test_ashby_without_a_field_refuses_before_calling(api, httpserver):
    with pytest.raises(FieldRefused):
        ashby.write_field(api(ashby), FieldTarget(ASHBY.application_id, None, None, None), LINK)
    assert not httpserver.log
