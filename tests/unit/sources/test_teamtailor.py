"""Teamtailor: body-signed company webhooks (signatures computed independently with openssl + base64)
verify; rejections become Lookups that fetch completes against a local server playing the API."""
from __future__ import annotations

import base64
import json

import pytest

from chalicelib.domain.errors import PayloadError, SignatureError
from chalicelib.domain.events import Lookup, RejectionEvent
from integrations.http import VendorApi
from integrations.sources import teamtailor
from tests.conftest import load_fixture
from tests.loopback import LOOPBACK

PATH = "/api/v1/job-applications/40211873"


def delivery(name: str):
    fx = load_fixture(f"sources/teamtailor/{name}")
    return {k.lower(): v for k, v in fx["headers"].items()}, fx["body"].encode(), fx["secret"]


def resign(body: bytes, **changes) -> bytes:
    data = json.loads(body)
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize("name", ["job_application_update_rejected", "job_application_update_stage_changed", "job_update_doc_example"])
def test_known_answer_signature_in_the_body_verifies(name):
    headers, body, secret = delivery(name)
    teamtailor.verify(headers, body, [secret])


def test_sign_matches_the_known_answer_in_the_body():
    _, body, secret = delivery("job_application_update_rejected")
    assert teamtailor.sign(body, secret)["Teamtailor-Signature"] == json.loads(body)["signature"]


def test_signature_decodes_to_a_hex_digest_like_the_docs_example():
    documented = "YzU1N2FhOTUwMjlkNTFiMGM5NjIxNTEyODc5NGY5ZjgxZWNkMmNkZTZhNmIxYmI2YmM3NmVmYmQ1ZGZiMDg0Zg=="
    assert len(base64.b64decode(documented).decode()) == 64
    _, body, _ = delivery("job_application_update_rejected")
    int(base64.b64decode(json.loads(body)["signature"]).decode(), 16)


def test_signature_in_the_header_is_preferred_over_the_body():
    _, body, secret = delivery("job_application_update_rejected")
    teamtailor.verify({k.lower(): v for k, v in teamtailor.sign(body, secret).items()}, body, [secret])
    with pytest.raises(SignatureError):
        teamtailor.verify({k.lower(): v for k, v in teamtailor.sign(body, "other-key").items()}, body, [secret])


def test_tampered_resource_id_is_rejected():
    headers, body, secret = delivery("job_application_update_rejected")
    with pytest.raises(SignatureError):
        teamtailor.verify(headers, body.replace(b'"40211873"', b'"40211875"'), [secret])


def test_tampered_body_is_rejected_only_where_signed():
    """The scheme signs the resource id alone (see the module docstring): other fields are not
    covered, which is why parse only ever asks fetch to read the application."""
    headers, body, secret = delivery("job_application_update_rejected")
    with pytest.raises(SignatureError):
        teamtailor.verify(headers, resign(body, signature=base64.b64encode(b"0" * 64).decode()), [secret])
    teamtailor.verify(headers, body.replace(b'"sourced": false', b'"sourced": true'), [secret])


def test_wrong_secret_is_rejected():
    headers, body, _ = delivery("job_application_update_rejected")
    with pytest.raises(SignatureError):
        teamtailor.verify(headers, body, ["another-key"])


def test_previous_secret_is_accepted_during_rotation():
    headers, body, secret = delivery("job_application_update_rejected")
    teamtailor.verify(headers, body, ["the-new-key", secret])


@pytest.mark.parametrize("signature", [None, "", "not base64!", "AAAA", 42])
def test_missing_or_malformed_signature_is_rejected(signature):
    headers, body, secret = delivery("job_application_update_rejected")
    with pytest.raises(SignatureError):
        teamtailor.verify(headers, resign(body, signature=signature), [secret])


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"payload": {"data": {}}, "signature": "AAAA"}', b'{"signature": "AAAA"}'])
def test_body_naming_no_resource_is_rejected(body):
    with pytest.raises(SignatureError):
        teamtailor.verify({}, body, ["key"])


def test_rejected_application_parses_to_one_lookup():
    headers, body, _ = delivery("job_application_update_rejected")
    [notice] = teamtailor.parse(headers, body, tenant="acme")
    assert isinstance(notice, Lookup)
    assert (notice.source, notice.resource, notice.resource_id, notice.hint) == ("teamtailor", "job-application", "40211873", "rejected")
    assert notice.occurred_at.isoformat() == "2024-11-19T15:02:43.911000+00:00"
    assert notice.delivery_id is None


def test_update_without_rejection_and_other_events_parse_to_nothing():
    assert teamtailor.parse({}, delivery("job_application_update_stage_changed")[1], tenant="acme") == []
    assert teamtailor.parse({}, delivery("job_update_doc_example")[1], tenant="acme") == []


def test_update_without_attributes_is_looked_up():
    body = b'{"payload": {"event_name": "job_application.update", "data": {"id": "7", "type": "job-applications"}}}'
    [notice] = teamtailor.parse({}, body, tenant="acme")
    assert (notice.resource_id, notice.hint) == ("7", None)


@pytest.mark.parametrize("data", [None, [], {"type": "job-applications"}, {"id": "7", "attributes": []},
                                  {"id": "7", "attributes": {"rejected-at": "last week"}}])
def test_malformed_application_update_is_a_payload_error(data):
    body = json.dumps({"payload": {"event_name": "job_application.update", "data": data}}).encode()
    with pytest.raises(PayloadError):
        teamtailor.parse({}, body, tenant="acme")


# -- fetch against a local server playing the Teamtailor API -----------------------------------

def lookup() -> Lookup:
    return teamtailor.parse({}, delivery("job_application_update_rejected")[1], tenant="acme")[0]


def api(httpserver, timeout=(2.0, 2.0)) -> VendorApi:
    return VendorApi(egress=LOOPBACK, vendor=teamtailor.NAME, base_url=httpserver.url_for("/api/v1"),
                     headers=teamtailor.auth_headers("k"), timeout=timeout)


def answer():
    return load_fixture("sources/teamtailor/api/job_application_rejected")["body"]


def expect(httpserver):
    return httpserver.expect_request(PATH, query_string={"include": "candidate,job,stage,reject-reason"},
                                     headers={"Authorization": "Token token=k", "X-Api-Version": "20240404"})


def test_fetch_turns_the_rejected_application_into_a_rejection(httpserver):
    expect(httpserver).respond_with_json(answer())
    [event] = teamtailor.fetch(lookup(), api(httpserver))
    assert isinstance(event, RejectionEvent) and not event.by_candidate
    assert (event.person.vendor_person_id, event.application_id, event.job_id, event.job_title) == \
        ("18800432", "40211873", "771203", "Product Designer")
    assert (event.stage, event.reason) == ("Interview", "Went with another candidate")
    assert event.occurred_at.isoformat() == "2024-11-19T15:02:43.911000+00:00"
    assert (event.person.name, event.person.email, event.person.phone) == (
        "Sofia Lindqvist", "sofia.lindqvist@example.com", "+46 70 123 45 67")
    assert (event.person.family_name, event.person.given_name) == ("Lindqvist", "Sofia")  # last-name, first-name


def test_fetch_flags_a_reason_not_given_by_the_company_as_the_candidates(httpserver):
    document = answer()
    document["included"][3]["attributes"]["rejected-by-company"] = False
    expect(httpserver).respond_with_json(document)
    [event] = teamtailor.fetch(lookup(), api(httpserver))
    assert event.by_candidate


def test_fetch_of_an_application_no_longer_rejected_gives_nothing(httpserver):
    document = answer()
    document["data"]["attributes"]["rejected-at"] = None
    expect(httpserver).respond_with_json(document)
    assert teamtailor.fetch(lookup(), api(httpserver)) == []


def test_fetch_of_a_deleted_application_gives_nothing(httpserver):
    httpserver.expect_request(PATH).respond_with_data("", status=404)
    assert teamtailor.fetch(lookup(), api(httpserver)) == []


def test_fetch_without_a_candidate_is_a_payload_error(httpserver):
    document = answer()
    del document["data"]["relationships"]["candidate"]
    expect(httpserver).respond_with_json(document)
    with pytest.raises(PayloadError):
        teamtailor.fetch(lookup(), api(httpserver))


