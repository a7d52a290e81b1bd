"""Mail templates: shipped defaults per kind and locale, tenant overrides, checked and rendered
with Jinja2 in a sandbox (autoescaped HTML; StrictUndefined so an unknown variable is an error).

A template is {"subject", "text", "html"?}. Every mail gets a plain-text part and an HTML part,
the Career Relay link (appended when the template lacks the placeholder) and the sender block
with the opt-out link, which templates cannot remove (特定電子メール法 Art. 4)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.mail import RenderedMail, Template

ROOT = Path(__file__).resolve().parent.parent / "templates"
KINDS: tuple[str, ...] = ("rejection", "alumni_farewell", "nurture", "alumni_nurture")
LOCALES: tuple[str, ...] = ("ja", "en")
LINK = "relay_link"
VARIABLES = {
    "person_name": "the person's name as the source knows it (may be empty)",
    "company_name": "the tenant's company name",
    "job_title": "the job of the application (may be empty)",
    "relay_link": "the personal Career Relay link (consent page)",
    "link_expires_on": "the date the link expires",
    "unsubscribe_link": "the one-click opt-out page",
    "postal_address": "the tenant's postal address",
    "contact": "the tenant's contact",
}
SAMPLE: Mapping[str, str] = {"person_name": "山田 花子", "company_name": "Example株式会社", "job_title": "バックエンドエンジニア",
          "relay_link": "https://hub.example.com/r/sample", "link_expires_on": "2026-12-25",
          "unsubscribe_link": "https://hub.example.com/u/sample", "postal_address": "東京都千代田区1-1-1",
          "contact": "careers@example.com"}
MAX_PART = 20_000


@cache
def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(loader=FileSystemLoader(str(ROOT)), autoescape=autoescape,
                                         undefined=StrictUndefined, keep_trailing_newline=False)


def default(kind: str, locale: str) -> Template:
    source = _env(False).loader.get_source
    return Template(subject=source(_env(False), f"mail/{kind}.{locale}.subject.j2")[0].strip(),
                    text=source(_env(False), f"mail/{kind}.{locale}.text.j2")[0])


def check_kind(kind: str, locale: str) -> None:
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    if locale not in LOCALES:
        raise BadRequest(f"locale must be one of {', '.join(LOCALES)}")


def check(template: Template) -> None:
    """Refuse syntax errors and unknown variables, naming the part and the line."""
    for part, source, escape_html in (("subject", template.subject, False), ("text", template.text, False),
                                      ("html", template.html, True)):
        if source is None:
            continue
        if len(source) > MAX_PART:
            raise BadRequest(f"{part} is longer than {MAX_PART} characters")
        env = _env(escape_html)
        try:
            tree = env.parse(source)
        except TemplateSyntaxError as error:
            raise BadRequest(f"{part}, line {error.lineno}: {error.message}") from None
        unknown = sorted(meta.find_undeclared_variables(tree) - set(VARIABLES))
        if unknown:
            line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == unknown[0]), 1)
            raise BadRequest(f"{part}, line {line}: unknown variable '{unknown[0]}' "
                             f"(known: {', '.join(sorted(VARIABLES))})")
        try:
            env.from_string(source).render(SAMPLE)
        except (UndefinedError, SecurityError, TypeError, ValueError, ArithmeticError) as error:
            raise BadRequest(f"{part}: the template fails on sample data ({type(error).__name__})") from None


def render(template: Template, context: Mapping[str, str | None], locale: str) -> RenderedMail:
    """The mail for one person: subject, text part and HTML part, link and sender block guaranteed."""
    values = {name: context.get(name) or "" for name in VARIABLES}
    plain = _env(False)
    subject = " ".join(plain.from_string(template.subject).render(values).split())[:200]  # one line: no header injection
    text = plain.from_string(template.text).render(values).strip()
    if LINK not in _variables(template.text):
        text += "\n\n" + plain.get_template(f"mail/link_block.{locale}.text.j2").render(values).strip()
    footer = plain.get_template(f"mail/footer.{locale}.text.j2").render(values).strip()
    if template.html:
        body = Markup(_env(True).from_string(template.html).render(values))
        if LINK not in _variables(template.html):
            body += Markup("<p>") + _links(plain.get_template(f"mail/link_block.{locale}.text.j2").render(values), values) + Markup("</p>")
    else:
        body = Markup("").join(Markup('<p style="margin:0 0 1em;">') + _links(p, values) + Markup("</p>")
                               for p in re.split(r"\n\s*\n", text) if p.strip())
    html = _env(True).get_template("mail/layout.html.j2").render(
        locale=locale, subject=subject, body=body, footer=_links(footer, values))
    return RenderedMail(subject=subject, text=f"{text}\n\n{footer}\n", html=html)


def _variables(source: str) -> set[str]:
    return meta.find_undeclared_variables(_env(False).parse(source))


def _links(paragraph: str, values: dict[str, str]) -> Markup:
    """Escape a text paragraph for HTML, keep its line breaks, and make the hub's links clickable."""
    html = str(escape(paragraph)).replace("\n", "<br>")
    button = "display:inline-block;padding:10px 16px;background:#1f5fbf;color:#fff;border-radius:6px;text-decoration:none;"
    for name, style in ((LINK, button), ("unsubscribe_link", "color:#666;")):
        url = values.get(name)
        if url:
            safe = str(escape(url))
            html = html.replace(safe, f'<a href="{safe}" style="{style}">{safe}</a>')
    return Markup(html)


def page(name: str, **context) -> str:
    """A server-rendered HTML page (autoescaped)."""
    return _env(True).get_template(f"pages/{name}.html.j2").render(**context)


def page_text(name: str, **context) -> str:
    """A plain-text page fragment (consent texts), rendered exactly as shown and versioned."""
    return _env(False).get_template(f"pages/{name}.txt.j2").render(**context).strip()
