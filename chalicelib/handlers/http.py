"""What every HTTP handler shares: JSON answers, the error table, admin authentication."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import wraps
from typing import Any, NamedTuple

from chalice import Response

from chalicelib.domain.errors import BadRequest, Forbidden, HubError, RetryableError, Unauthorized
from chalicelib.observability import MetricUnit, logger, metrics

JSON = {"Content-Type": "application/json"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status, headers={**JSON, **(headers or {})})


def error_response(error: HubError) -> Response:
    headers = {}
    if isinstance(error, RetryableError) and error.retry_after_s:
        headers["Retry-After"] = str(int(error.retry_after_s + 0.999))
    return json_response({"error": error.code, "message": error.message}, error.status, headers)


def api(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Answer HubErrors with their status and a JSON error; anything else is our fault (500)."""

    @wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return handler(*args, **kwargs)
        except HubError as error:
            logger.info("request refused", extra={"error": error.code, "status": error.status})
            metrics.add_metric(name="RequestRefused", unit=MetricUnit.Count, value=1)
            return error_response(error)
        except Exception:  # noqa: BLE001 - the last line of defence; the traceback holds no request data
            logger.exception("request failed")
            return json_response({"error": "internal_error", "message": "the hub failed; try again"}, 500)

    return wrapper


def json_object(raw_body: bytes | None) -> dict[str, Any]:
    """The request body as a JSON object; BadRequest otherwise."""
    try:
        value = json.loads((raw_body or b"").decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value


class Principal(NamedTuple):
    """Who makes an admin request: the all-tenants token ("admin"), a tenant token ("token:<id>")
    or an IAM identity (its ARN), and the one tenant it may act for (None: all, the platform)."""

    who: str
    tenant: str | None = None


def _bearer(headers: dict[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "authorization" and value.lower().startswith("bearer "):
            return value[7:].strip()
    return ""


def _iam_arn(context: dict | None) -> str | None:
    """The IAM identity API Gateway authenticated with SigV4 (HUB_ADMIN_AUTH=iam, in AWS); None otherwise."""
    arn = ((context or {}).get("identity") or {}).get("userArn")
    return arn if os.environ.get("HUB_ADMIN_AUTH") == "iam" and isinstance(arn, str) and arn else None


def authenticate(headers: dict[str, str], context: dict | None = None, tenant: str | None = None) -> Principal:
    """The principal behind a request: a valid bearer token, or (HUB_ADMIN_AUTH=iam, in AWS) an IAM
    identity that API Gateway authenticated with SigV4 before the request reached us. 401 otherwise.

    The app decides what an IAM principal reaches, whatever the gateway's policy lets through: one
    listed in HUB_PLATFORM_PRINCIPALS acts for every tenant; any other acts for `tenant` only when it
    was granted that tenant (POST /admin/tenants/{t}/principals), and is refused (403) otherwise."""
    arn = _iam_arn(context)
    if arn is not None:
        return _iam_principal(arn, tenant)
    import hmac  # the request path's imports load on first use (cold start)

    from chalicelib import settings

    given, expected = _bearer(headers), settings.current().admin_token
    if given and expected and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        return Principal(who="admin")
    if given.count(".") == 2:
        from chalicelib import wiring  # the token store, built on first use

        scoped = wiring.hub().access.tenant_of(given)
        if scoped:
            return Principal(who=f"token:{scoped[1]}", tenant=scoped[0])
    raise Unauthorized("a valid bearer token is required")


def _iam_principal(arn: str, tenant: str | None) -> Principal:
    from chalicelib import settings, wiring
    from chalicelib.domain import principals

    if principals.canonical(arn) in settings.current().platform_principals:
        return Principal(who=arn)
    if tenant is not None and wiring.hub().access.may_act_for(arn, tenant):
        return Principal(who=arn, tenant=tenant)
    raise Forbidden("this principal may not act for this tenant or operation")


def authorize(headers: dict[str, str], context: dict | None, tenant: str | None = None, *,
              all_tenants: bool = False) -> Principal:
    """authenticate(), then 403 for a tenant token (or a tenant's IAM principal) on another tenant or
    on what needs all tenants."""
    principal = authenticate(headers, context, None if all_tenants else tenant)
    if principal.tenant is not None and (all_tenants or principal.tenant != tenant):
        raise Forbidden("this token is not valid for this tenant or operation")
    return principal


def require_admin(headers: dict[str, str], context: dict | None = None) -> None:
    """Admit only the all-tenants token or a platform principal."""
    authorize(headers, context, all_tenants=True)


def require_caller(headers: dict[str, str], context: dict | None = None) -> None:
    """Admit anyone who may act for some tenant: a valid token, a platform principal, or an IAM
    principal granted at least one tenant (what the API description needs: it holds no data)."""
    arn = _iam_arn(context)
    if arn is None:
        authenticate(headers, context)
        return
    from chalicelib import wiring

    try:
        _iam_principal(arn, None)
    except Forbidden:
        if not wiring.hub().access.acts_for_a_tenant(arn):
            raise


def _snake(code: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(code))


def register(app) -> None:
    """Answers Chalice gives before our handlers run (415 for an unlisted content type, 405, ...)
    take the hub's error shape too: {"error", "message"}."""

    @app.middleware("http")
    def uniform_errors(event, get_response):
        response = get_response(event)
        body = response.body
        if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
            response.body = json.dumps({"error": _snake(str(body["Code"])), "message": str(body["Message"])})
            response.headers["Content-Type"] = "application/json"
        return response
