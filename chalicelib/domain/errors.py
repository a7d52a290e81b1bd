"""Errors the hub raises on purpose. Handlers map each class to one HTTP answer or queue outcome.

Messages never carry personal data or request bodies: they are logged and returned to callers.
"""


class HubError(Exception):
    """Base for errors the hub raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__doc__ or self.code)
        self.message = message or (self.__doc__ or self.code).strip()


class BadRequest(HubError):
    """The request was not understood."""

    status = 400
    code = "bad_request"


class FormRefused(BadRequest):
    """A page's form the hub cannot take (stale, a bad score, too many fields, too large). The page
    is shown again with status 400 and a message saying why (`reason`), in the page's language."""

    code = "form_refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Unstorable(BadRequest):
    """Signed correctly, but storage refuses its data (DynamoDB's ValidationException): sending it
    again cannot help, so it is answered 422 and not retried. Names no data."""

    status = 422
    code = "unstorable"


class PayloadError(BadRequest):
    """Signed correctly but not understood. Answered 400; logged without the body."""

    code = "malformed_payload"


class SignatureError(HubError):
    """The request did not prove it came from the sender. Answered 401; never retried."""

    status = 401
    code = "invalid_signature"


class Unverified(SignatureError):
    """A webhook delivery refused: a bad signature, an unknown source and an unknown tenant give
    this one answer, so that the webhook route tells no one which tenants exist. The reason (an
    error code) and its message are for the logs only."""

    def __init__(self, reason: HubError) -> None:
        super().__init__("the delivery could not be verified")
        self.reason = reason.code
        self.detail = reason.message


class Unauthorized(HubError):
    """Missing or wrong credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(HubError):
    """The credentials do not reach this resource."""

    status = 403
    code = "forbidden"


class NotFound(HubError):
    """No such resource."""

    status = 404
    code = "not_found"


class UnknownSource(NotFound):
    """No adapter is registered under this source slug."""

    code = "unknown_source"


class UnknownTenant(NotFound):
    """The tenant does not exist, or has not connected this source."""

    code = "unknown_tenant"


class Conflict(HubError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class PayloadTooLarge(HubError):
    """The body is larger than the hub accepts."""

    status = 413
    code = "payload_too_large"


class RetryableError(HubError):
    """The other side may succeed later (timeout, 429, 5xx, contention). Callers retry."""

    status = 503
    code = "try_again"

    def __init__(self, message: str = "", *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(HubError):
    """Retrying cannot help (4xx other than 429 from a partner). Recorded as failed."""

    status = 502
    code = "partner_refused"

    def __init__(self, message: str = "", *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status  # what the partner answered, when it answered (4xx)


class CredentialsRefused(PermanentError):
    """The vendor refused the stored credentials (401/403, or invalid_grant at its token endpoint):
    retrying cannot help until an admin connects the source again. The source shows as failing."""

    code = "credentials_refused"


class FieldRefused(PermanentError):
    """The ATS refused a field write for the field itself (unknown field, wrong type): retrying
    cannot help until an admin fixes the field or the source's delivery. The source shows failing."""

    code = "ats_field_unknown"


class EgressRefused(BadRequest):
    """The hub does not call this address: https only, public internet addresses only."""

    code = "egress_refused"


# What the admin reads whenever a call to a partner (a vendor's API, an agency, a mail server)
# failed, whatever answered or did not: the details go to the logs, never to the answer, so the
# hub's reports cannot be used to probe which hosts and ports answer what.
PARTNER_FAILED = "partner_failed"


class TemplateError(PermanentError):
    """A mail template failed to render, or ran over its CPU, memory or output limit. The template
    is the caller's input: answered 400 (PUT, preview); at send time the mail is not sent and the
    notice or nurture occurrence records the reason `template_error`."""

    status = 400
    code = "template_error"
