"""Calling a vendor's OAuth token endpoint (RFC 6749): a form POST through the egress policy, the
answer read as JSON, and one table from outcomes to the hub's errors. Messages name the vendor, the
status and the OAuth error code (`invalid_grant`, ...), never a token or a response body."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from chalicelib.domain import oauth
from chalicelib.domain.errors import CredentialsRefused, EgressRefused, PayloadError, PermanentError, RetryableError
from integrations.egress import EgressPolicy
from integrations.http import TIMEOUT, new_session, retry_after_seconds


@dataclass
class TokenEndpoint:
    """The TokenEndpoint port (chalicelib/domain/vendors.py). Redirects are never followed."""

    egress: EgressPolicy = field(default_factory=EgressPolicy, repr=False)

    def __call__(self, vendor: str, url: str, form: Mapping[str, str]) -> Any:
        session = new_session(egress=self.egress)
        try:
            response = session.post(url, data=dict(form), timeout=TIMEOUT, allow_redirects=False)
        except EgressRefused:
            raise PermanentError(f"{vendor}'s token endpoint could not be reached") from None
        except (requests.Timeout, requests.ConnectionError) as error:
            raise RetryableError(f"{vendor}'s token endpoint did not answer ({type(error).__name__})") from None
        except requests.RequestException as error:
            raise PermanentError(f"{vendor}'s token endpoint request failed ({type(error).__name__})") from None
        finally:
            session.close()
        status = response.status_code
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = None
        if status == 429 or status >= 500:
            raise RetryableError(f"{vendor}'s token endpoint answered {status}",
                                 retry_after_s=retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 300:
            refusal = answer if isinstance(answer, dict) else None
            code = refusal.get("error") if refusal else None
            known = isinstance(code, str) and re.fullmatch(r"[a-z_]{1,40}", code) is not None
            detail = f"{status} {code}" if known else f"{status}"
            if oauth.refused(status, refusal):
                raise CredentialsRefused(f"{vendor}'s token endpoint refused the grant ({detail})")
            raise PermanentError(f"{vendor}'s token endpoint answered {detail}")
        if answer is None:
            raise PayloadError(f"{vendor}'s token endpoint answered {status} with a body that is not JSON")
        return answer
