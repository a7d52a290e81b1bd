"""The admin API (/admin/...): every call authenticated, every answer JSON."""
from __future__ import annotations

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.ports import Profile
from chalicelib.handlers.http import api, json_object, json_response, require_admin
from chalicelib.observability import logger


def person_json(profile: Profile) -> dict:
    person = profile.person
    return {"id": person.person_id, "name": person.name, "email": person.email, "phone": person.phone,
            "locale": person.locale, "roles": list(person.roles), "tags": list(person.tags),
            "consents": person.consents, "created_at": person.created_at, "timeline": profile.timeline}


@api
def put_source(request: Request, tenant: str, source: str) -> Response:
    require_admin(request.headers)
    body = json_object(request.raw_body)
    unknown = set(body) - {"webhook_secret", "api_key"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    wiring.hub().connect_source(tenant, source, body.get("webhook_secret"), body.get("api_key"))
    logger.info("source connected", extra={"tenant": tenant, "source": source})
    return json_response({"tenant": tenant, "source": source, "webhook_path": f"/webhooks/{tenant}/{source}",
                          "api_key_stored": "api_key" in body})


@api
def find_people(request: Request, tenant: str) -> Response:
    require_admin(request.headers)
    email = (request.query_params or {}).get("email")
    if not email:
        raise BadRequest("give ?email=ADDRESS")
    return json_response({"people": [person_json(p) for p in wiring.hub().people_by_email(tenant, email)]})


@api
def get_person(request: Request, tenant: str, person_id: str) -> Response:
    require_admin(request.headers)
    profile = wiring.hub().person(tenant, person_id)
    if profile is None:
        raise NotFound("no such person")
    return json_response(person_json(profile))
