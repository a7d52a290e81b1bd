"""The SenderIdentities port on SES v2: a tenant's sender domain registered as an email identity
with Easy DKIM (CreateEmailIdentity), tagged with the tenant and the stage, and its status read
back (GetEmailIdentity).

Status: verified when SES says VerifiedForSendingStatus or VerificationStatus SUCCESS; failed when
VerificationStatus or the DKIM status is FAILED, or the identity is gone or not the hub's; pending
otherwise (PENDING, TEMPORARY_FAILURE, NOT_STARTED). moto (make run, tests) answers SUCCESS at once
and no DKIM tokens, so locally a sender is verified as soon as it is registered."""
from __future__ import annotations

from functools import cached_property
from typing import Any

from chalicelib.adapters.resources import SENDER_STAGE_TAG, SENDER_TENANT_TAG
from chalicelib.domain import senders
from chalicelib.domain.errors import BadRequest, Conflict, RetryableError
from chalicelib.domain.records import SenderIdentity

_GONE = ("NotFoundException", "AccessDeniedException", "AccessDenied")  # not there, or not tagged with our stage


class SesSenderIdentities:
    def __init__(self, stage: str) -> None:
        self._stage = stage

    @cached_property
    def _ses(self) -> Any:
        import boto3
        return boto3.client("sesv2")

    def register(self, tenant: str, domain: str) -> SenderIdentity:
        from botocore.exceptions import BotoCoreError, ClientError

        tags = [{"Key": SENDER_STAGE_TAG, "Value": self._stage}, {"Key": SENDER_TENANT_TAG, "Value": tenant}]
        try:
            self._ses.create_email_identity(EmailIdentity=domain, Tags=tags)  # no DkimSigningAttributes: Easy DKIM
        except ClientError as error:
            code = _code(error)
            if code == "AlreadyExistsException":
                found = self._read(domain, missing=Conflict(senders.REFUSED))
                if _tags(found) != {SENDER_STAGE_TAG: self._stage, SENDER_TENANT_TAG: tenant}:
                    raise Conflict(senders.REFUSED) from None  # another tenant's, another stage's, or made by hand
                return _identity(domain, found)
            if code == "BadRequestException":
                raise BadRequest("sender_email's domain cannot be registered as a sender") from None
            raise RetryableError(f"SES did not register the sender ({code})") from None
        except BotoCoreError as error:
            raise RetryableError(f"SES could not be reached ({type(error).__name__})") from None
        return self.lookup(domain)

    def lookup(self, domain: str) -> SenderIdentity:
        found = self._read(domain, missing=None)
        return _identity(domain, found) if found is not None else SenderIdentity(domain, senders.FAILED)

    def _read(self, domain: str, *, missing: Exception | None) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return dict(self._ses.get_email_identity(EmailIdentity=domain))
        except ClientError as error:
            code = _code(error)
            if code in _GONE:
                if missing is not None:
                    raise missing from None
                return None
            raise RetryableError(f"SES did not answer for the sender ({code})") from None
        except BotoCoreError as error:
            raise RetryableError(f"SES could not be reached ({type(error).__name__})") from None


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _tags(found: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in found.get("Tags") or []
            if tag.get("Key") in (SENDER_STAGE_TAG, SENDER_TENANT_TAG)}


def _identity(domain: str, found: dict[str, Any]) -> SenderIdentity:
    dkim = found.get("DkimAttributes") or {}
    if found.get("VerifiedForSendingStatus") or found.get("VerificationStatus") == "SUCCESS":
        status = senders.VERIFIED
    elif found.get("VerificationStatus") == "FAILED" or dkim.get("Status") == "FAILED":
        status = senders.FAILED
    else:
        status = senders.PENDING
    return SenderIdentity(domain=domain, status=status, dkim_tokens=tuple(dkim.get("Tokens") or ()))
