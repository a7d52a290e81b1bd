"""e20-sources: the admin API of a source's deliveries and of the tenant's failed work (issue 20;
docs/admin-api.md "Deliveries and dead letters"). The console's sources screen calls the same
services (chalicelib/handlers/console_sources.py) and writes the same audit entries."""
from __future__ import annotations

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.errors import BadRequest
from chalicelib.handlers.admin import admin
from chalicelib.handlers.http import Principal, json_object, json_response


@admin(None)  # outcomes, event names and reasons: no body, no personal field
def deliveries(request: Request, who: Principal, tenant: str, source: str) -> Response:
    return json_response(wiring.hub().deliveries.deliveries(tenant, source, request.query_params or {}))


@admin("source.test")
def send_test(request: Request, who: Principal, tenant: str, source: str) -> Response:
    return json_response(wiring.hub().deliveries.send_test(tenant, source))


@admin("source.rotate")
def rotate_secret(request: Request, who: Principal, tenant: str, source: str) -> Response:
    """A new webhook secret made by the hub, answered once; {"end_previous": true} ends the old one now."""
    body = json_object(request.raw_body) if request.raw_body else {}
    unknown = set(body) - {"end_previous"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    end_previous = body.get("end_previous", False)
    if not isinstance(end_previous, bool):
        raise BadRequest("end_previous must be true or false")
    return json_response(wiring.hub().deliveries.rotate_secret(tenant, source, end_previous=end_previous))


@admin(None)  # kinds, ages and reasons: never a person id
def dead_letters(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().failed_work.list_dead_letters(tenant))


@admin("dead_letter.redrive")
def redrive(request: Request, who: Principal, tenant: str, message_id: str) -> Response:
    return json_response(wiring.hub().failed_work.redrive(tenant, message_id))
