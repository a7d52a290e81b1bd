"""e20-content: the admin API's reads of templates the console's templates screen shows (issue 20
point 7): every kind and locale with the version in use, and a template's last versions with who
stored each and when. Configuration, no personal data: not audited (like GET .../templates/{kind}/{locale})."""
from __future__ import annotations

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.handlers.admin import admin
from chalicelib.handlers.http import Principal, json_response


@admin(None)
def list_templates(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().configuration.template_list(tenant))


@admin(None)
def template_versions(request: Request, who: Principal, tenant: str, kind: str, locale: str) -> Response:
    return json_response(wiring.hub().configuration.template_versions(tenant, kind, locale))
