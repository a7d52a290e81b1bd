"""What every HTTP handler shares: JSON answers, the error table, admin authentication."""
from __future__ import annotations

import hmac
import json
import os
from functools import wraps
from typing import Any, Callable

from chalice import Response

from chalicelib import settings
from chalicelib.domain.errors import BadRequest, HubError, RetryableError, Unauthorized
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


def require_admin(headers: dict[str, str], context: dict | None = None) -> None:
    """Admit a request bearing the admin token, or (HUB_ADMIN_AUTH=iam, in AWS) one that API
    Gateway authenticated with IAM (SigV4) before it reached us."""
    if os.environ.get("HUB_ADMIN_AUTH") == "iam" and ((context or {}).get("identity") or {}).get("userArn"):
        return
    expected = settings.current().admin_token
    given = ""
    for name, value in headers.items():
        if name.lower() == "authorization" and value.lower().startswith("bearer "):
            given = value[7:].strip()
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise Unauthorized("a valid bearer token is required")


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
