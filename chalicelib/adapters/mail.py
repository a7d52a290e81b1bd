"""The Mailer port: SES v2 (raw MIME, so the unsubscribe headers travel) or the tenant's SMTP."""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.domain.errors import PermanentError, RetryableError
from chalicelib.domain.tenants import TenantSettings
from integrations.mail import smtp
from integrations.mail.message import build

if TYPE_CHECKING:
    from integrations.egress import EgressPolicy


class Mailer:
    """SES, or the tenant's SMTP server through the egress policy (`egress`: chalicelib/wiring.py)."""

    def __init__(self, smtp_password: Callable[[str], str | None] = lambda tenant: None,
                 configuration_set: str | None = None, egress: EgressPolicy | None = None) -> None:
        self._smtp_password = smtp_password
        self._configuration_set = configuration_set
        self._egress = egress

    @cached_property
    def _ses(self):
        import boto3
        return boto3.client("sesv2")

    def send(self, tenant: str, settings: TenantSettings, *, to: str, subject: str, text: str, html: str,
             unsubscribe_url: str, reference: str) -> str:
        message = build(sender=settings.sender_email, sender_name=settings.company_name, to=to, subject=subject,
                        text=text, html=html, unsubscribe_url=unsubscribe_url, reference=reference)
        if settings.mail_transport == "smtp" and settings.smtp:
            # the stored password goes only where the settings that stored it point (has_password is
            # cleared, and the password dropped, whenever smtp.host or port change without a new one)
            password = self._smtp_password(tenant) if settings.smtp.has_password else None
            return smtp.send(message, host=settings.smtp.host, port=settings.smtp.port, username=settings.smtp.username,
                             password=password, starttls=settings.smtp.starttls, egress=self._egress)
        return self._send_ses(tenant, settings.sender_email, to, message.as_bytes())

    def _send_ses(self, tenant: str, sender: str, to: str, raw: bytes) -> str:
        from botocore.exceptions import BotoCoreError, ClientError
        kwargs = {"FromEmailAddress": sender, "Destination": {"ToAddresses": [to]}, "Content": {"Raw": {"Data": raw}},
                  "EmailTags": [{"Name": "tenant", "Value": tenant}]}  # bounces and complaints come back with it
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        try:
            return self._ses.send_email(**kwargs)["MessageId"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("TooManyRequestsException", "LimitExceededException", "SendingPausedException", "InternalFailure"):
                raise RetryableError(f"SES answered {code}") from None
            raise PermanentError(f"SES refused the message ({code})") from None
        except BotoCoreError as error:
            raise RetryableError(f"SES could not be reached ({type(error).__name__})") from None
