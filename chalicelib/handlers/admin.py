"""The admin API (/admin/...): every call authenticated, every answer JSON."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.errors import BadRequest, NotFound, PayloadTooLarge
from chalicelib.handlers.http import api, json_object, json_response, require_admin
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalicelib.domain.ports import Profile


def person_json(profile: Profile) -> dict:
    person = profile.person
    return {"id": person.person_id, "name": person.name, "email": person.email, "phone": person.phone,
            "locale": person.locale, "roles": list(person.roles), "tags": list(person.tags),
            "consents": person.consents, "created_at": person.created_at, "timeline": profile.timeline}


@api
def put_source(request: Request, tenant: str, source: str) -> Response:
    require_admin(request.headers, request.context)
    body = json_object(request.raw_body)
    unknown = set(body) - {"webhook_secret", "api_key", "api_base_url"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    hub = wiring.hub()
    hub.connect_source(tenant, source, body.get("webhook_secret"), body.get("api_key"), body.get("api_base_url"))
    logger.info("source connected", extra={"tenant": tenant, "source": source})
    answer = {"tenant": tenant, "source": source, "api_key_stored": "api_key" in body}
    if source in hub.sources:
        answer["webhook_path"] = f"/webhooks/{tenant}/{source}"
    else:
        answer["polled"] = True
    return json_response(answer)


@api
def run_poll(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    return json_response({"sources": [r.to_json() for r in wiring.hub().poll_sources(tenant)]})


@api
def import_inventory(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    raw = request.raw_body or b""
    from chalicelib.services import MAX_BODY_BYTES

    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the CSV is over {MAX_BODY_BYTES} bytes: split it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the CSV must be UTF-8 (save as 'CSV UTF-8')") from None
    report = wiring.hub().import_inventory(tenant, text)
    logger.info("inventory imported", extra={k: v for k, v in report.items() if k != "errors"})
    return json_response(report)


@api
def find_people(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    email = (request.query_params or {}).get("email")
    if not email:
        raise BadRequest("give ?email=ADDRESS")
    return json_response({"people": [person_json(p) for p in wiring.hub().people_by_email(tenant, email)]})


@api
def get_person(request: Request, tenant: str, person_id: str) -> Response:
    require_admin(request.headers, request.context)
    profile = wiring.hub().person(tenant, person_id)
    if profile is None:
        raise NotFound("no such person")
    return json_response(person_json(profile))


@api
def put_settings(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    settings = wiring.hub().put_settings(tenant, json_object(request.raw_body))
    logger.info("settings changed", extra={"tenant": tenant})
    return json_response(settings)


@api
def get_settings(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    settings = wiring.hub().tenant_settings(tenant)
    if settings is None:
        raise NotFound("this tenant has no settings yet")
    return json_response(settings.to_json())


@api
def put_template(request: Request, tenant: str, kind: str, locale: str) -> Response:
    require_admin(request.headers, request.context)
    stored = wiring.hub().put_template(tenant, kind, locale, json_object(request.raw_body))
    logger.info("template changed", extra={"tenant": tenant, "kind": kind, "locale": locale})
    return json_response(stored)


@api
def get_template(request: Request, tenant: str, kind: str, locale: str) -> Response:
    require_admin(request.headers, request.context)
    template = wiring.hub().template(tenant, kind, locale)
    return json_response({"kind": kind, "locale": locale, "version": template.version, "subject": template.subject,
                          "text": template.text, "html": template.html, "default": template.version == 0})


@api
def preview_template(request: Request, tenant: str, kind: str, locale: str) -> Response:
    require_admin(request.headers, request.context)
    body = json_object(request.raw_body) if (request.raw_body or b"").strip() else None
    return json_response(wiring.hub().preview_template(tenant, kind, locale, body))


@api
def put_agency(request: Request, tenant: str, agency: str) -> Response:
    require_admin(request.headers, request.context)
    stored = wiring.hub().put_agency(tenant, agency, json_object(request.raw_body))
    logger.info("agency configured", extra={"tenant": tenant, "agency": agency})
    return json_response(stored)


@api
def get_agency(request: Request, tenant: str, agency: str) -> Response:
    require_admin(request.headers, request.context)
    return json_response(wiring.hub().agency(tenant, agency).to_json())


@api
def run_agency_batch(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    return json_response({"agencies": wiring.hub().run_agency_batches(tenant)})


@api
def ledger(request: Request, tenant: str, agency: str) -> Response:
    require_admin(request.headers, request.context)
    return json_response(wiring.hub().ledger(tenant, agency))


@api
def use_slot(request: Request, tenant: str, agency: str) -> Response:
    require_admin(request.headers, request.context)
    body = json_object(request.raw_body) if (request.raw_body or b"").strip() else {}
    entry = wiring.hub().use_slot(tenant, agency, body, by="admin")
    logger.info("slot used", extra={"tenant": tenant, "agency": agency})
    return json_response(entry, 201)


@api
def provisions(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    person_id = (request.query_params or {}).get("person_id", "")
    return json_response({"provisions": wiring.hub().provisions(tenant, person_id)})


@api
def get_kpis(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    query = request.query_params or {}
    return json_response(wiring.hub().kpis(tenant, query.get("from"), query.get("to"), query.get("by")))


@api
def run_kpi_publish(request: Request, tenant: str) -> Response:
    require_admin(request.headers, request.context)
    return json_response(wiring.hub().publish_kpis(tenant))
