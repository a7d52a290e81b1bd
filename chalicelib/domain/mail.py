"""Mail as the use cases see it: a template (a tenant's or the shipped default) and the mail it
renders to. Checking and rendering are the templates port's (chalicelib/adapters/templates.py)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str | None = None
    version: int = 0  # 0: the shipped default


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
