"""The routing admin API: what each kind of rejection earns (docs/routing.md)."""
from __future__ import annotations

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.handlers.admin import admin
from chalicelib.handlers.http import Principal, json_object, json_response
from chalicelib.observability import logger


@admin("routing.change")
def put_routing(request: Request, who: Principal, tenant: str) -> Response:
    stored = wiring.hub().routing.put_rules(tenant, json_object(request.raw_body))
    logger.info("routing changed", extra={"tenant": tenant, "rules": len(stored["rules"])})
    return json_response(stored)


@admin(None)  # the tenant's rules: no personal data
def get_routing(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().routing.rules_answer(tenant))
