"""Mail templates: shipped defaults per kind and locale, tenant overrides, checked and rendered
with Jinja2 in a sandbox (autoescaped HTML; StrictUndefined so an unknown variable is an error).

A template is {"subject", "text", "html"?}. Every mail gets a plain-text part and an HTML part,
the Career Relay link (appended when the template lacks the placeholder) and the sender block
with the opt-out link, which templates cannot remove (特定電子メール法 Art. 4).

A tenant's template is untrusted code run by workers all tenants share (the notice consumer, the
admin API), so all Jinja2 work on it (parsing, which already folds constant expressions such as
`'x' * 2000000000`, checking and rendering) happens in a forked child process with hard limits
(chalicelib/adapters/isolation.py, docs/security.md), per mail or check:
  - CPU: RENDER_CPU_S of CPU time (then the kernel's RLIMIT_CPU at RENDER_KILL_CPU_S);
  - memory: RENDER_MEMORY_MB of address space beyond the forked process's;
  - loops: MAX_ITERATIONS iterations for all the loops of the mail, counted in the sandbox (every
    `for` of a tenant's template iterates through `counted`), whatever the CPU's speed;
  - output: MAX_OUTPUT characters for the whole mail, counted while the parts stream out;
  - time: the parent kills a child that has not answered after RENDER_WALL_S.
`include`, `import` and `extends` reach only the hub's own partials (PARTIALS), named literally.
A template that fails is a TemplateError: 400 at PUT and preview; at send time the notice or
nurture occurrence is passed with the reason `template_error`. The shipped defaults are the hub's
own code and render in-process, as everything does where the platform has no fork (not Lambda).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from functools import cache
from pathlib import Path

from jinja2 import BaseLoader, FileSystemLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from chalicelib.adapters import isolation
from chalicelib.adapters.isolation import OverLimit
from chalicelib.domain.calendar_ja import format_wareki, parse_japanese_date
from chalicelib.domain.errors import BadRequest, TemplateError
from chalicelib.domain.mail import RenderedMail, Template

ROOT = Path(__file__).resolve().parent.parent / "templates"
KINDS: tuple[str, ...] = ("rejection", "alumni_farewell", "nurture", "alumni_nurture", "relay_invitation")
LOCALES: tuple[str, ...] = ("ja", "en")
LINK = "relay_link"
VARIABLES = {
    "name": "the person's whole name in its reading order: 山田 太郎 (family first) or Hector Porter (may be empty)",
    "family_name": "the family name, where the source gives the name in parts (may be empty)",
    "given_name": "the given name, where the source gives the name in parts (may be empty)",
    "name_kana": "the reading of the name (フリガナ), family first (may be empty)",
    "person_name": "the same as name (kept for templates written before name)",
    "company_name": "the tenant's company name",
    "job_title": "the job of the application (may be empty)",
    "relay_link": "the personal Career Relay link (consent page)",
    "link_expires_on": "the date the link expires",
    "unsubscribe_link": "the one-click opt-out page",
    "postal_address": "the tenant's postal address",
    "contact": "the tenant's contact",
}
# Filters templates may use; every date a template gets is a day of the tenant's time zone (YYYY-MM-DD)
FILTERS = {
    "wareki": "a date in the Japanese era calendar: {{ link_expires_on | wareki }} -> 令和8年12月25日",
}
SAMPLE: Mapping[str, str] = {"name": "山田 花子", "person_name": "山田 花子", "family_name": "山田", "given_name": "花子",
          "name_kana": "ヤマダ ハナコ", "company_name": "Example株式会社", "job_title": "バックエンドエンジニア",
          "relay_link": "https://hub.example.com/r/sample", "link_expires_on": "2026-12-25",
          "unsubscribe_link": "https://hub.example.com/u/sample", "postal_address": "東京都千代田区1-1-1",
          "contact": "careers@example.com"}
MAX_PART = 20_000
# The hub's own partials a tenant's template may include, import or extend (the link block and the
# sender block, in each language); nothing else in chalicelib/templates is reachable from one.
PARTIALS: tuple[str, ...] = tuple(f"mail/{name}.{locale}.text.j2" for name in ("link_block", "footer") for locale in LOCALES)
# Limits of one mail's render (all its parts) or one check, enforced in a child process (above).
RENDER_CPU_S = 0.5
RENDER_KILL_CPU_S = 2
RENDER_MEMORY_MB = 64  # beside a Lambda of 256 MB (infra/stacks/hub.py): the child must not take it all
RENDER_WALL_S = 5.0
MAX_OUTPUT = 1_000_000
MAX_ITERATIONS = 100_000
LIMITS = isolation.Limits(cpu_s=RENDER_CPU_S, kill_cpu_s=RENDER_KILL_CPU_S, memory_mb=RENDER_MEMORY_MB, wall_s=RENDER_WALL_S)


class _Counted(ImmutableSandboxedEnvironment):
    """The sandbox with every `for` loop's iterable passed through `counted`, so the loops of one
    render share MAX_ITERATIONS (a limit that does not depend on how fast the CPU is)."""

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.ImportedName(f"{__name__}.counted"), [loop.iter], [], None, None, lineno=loop.lineno)
        return tree


class _Steps(threading.local):
    left = MAX_ITERATIONS


_steps = _Steps()


def counted(iterable: Iterable[object]) -> Iterator[object]:
    """The items of a template's loop, each spending one of the render's MAX_ITERATIONS."""
    for item in iterable:
        _steps.left -= 1
        if _steps.left < 0:
            raise _Limit(f"the loops ran more than {MAX_ITERATIONS} times")
        yield item


class _PartialsLoader(BaseLoader):
    """Only the hub's own partials, read from chalicelib/templates; any other name is not found."""

    def get_source(self, environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        if template not in PARTIALS:
            raise TemplateNotFound(template)
        return FileSystemLoader(str(ROOT)).get_source(environment, template)


def wareki(value: object) -> str:
    """The `wareki` filter: a date (or YYYY-MM-DD text) as 令和8年12月2日; ValueError otherwise
    (a template_error, like any failing template)."""
    day = value if isinstance(value, date) else parse_japanese_date(str(value))
    return format_wareki(day)


def _with_filters(env: ImmutableSandboxedEnvironment) -> ImmutableSandboxedEnvironment:
    env.filters["wareki"] = wareki
    return env


@cache
def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    """The hub's own templates (layout, partials, pages): every file under chalicelib/templates."""
    return _with_filters(ImmutableSandboxedEnvironment(loader=FileSystemLoader(str(ROOT)), autoescape=autoescape,
                                                       undefined=StrictUndefined, keep_trailing_newline=False))


@cache
def _tenant_env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    """Tenants' templates: sandboxed, loops counted, and reaching only PARTIALS."""
    return _with_filters(_Counted(loader=_PartialsLoader(), autoescape=autoescape, undefined=StrictUndefined,
                                  keep_trailing_newline=False))


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
    """Refuse syntax errors, unknown variables and names of templates other than the hub's partials,
    naming the part and the line; then render the mail on sample data within the limits, so a
    template that fails or runs over them is refused here (400), not at send time."""
    for part, source, _ in _parts(template):
        if len(source) > MAX_PART:
            raise BadRequest(f"{part} is longer than {MAX_PART} characters")
    try:
        answer = _isolated(lambda: _checked(template))
    except TemplateError as error:
        raise BadRequest(error.message) from None
    if "refused" in answer:
        raise BadRequest(answer["refused"])


def render(template: Template, context: Mapping[str, str | None], locale: str) -> RenderedMail:
    """The mail for one person: subject, text part and HTML part, link and sender block guaranteed;
    rendered within the limits (module docstring).

    Raises:
        TemplateError: the template failed or ran over a limit (the message names the part and
            the problem, never a value).
    """
    values = {name: context.get(name) or "" for name in VARIABLES}
    if (template.subject, template.text, template.html) in _shipped():
        return _render(template, values, locale)  # the hub's own defaults are not a tenant's code
    answer = _isolated(lambda: _mail(template, values, locale))
    if "error" in answer:
        raise TemplateError(answer["error"])
    return RenderedMail(subject=answer["subject"], text=answer["text"], html=answer["html"])


def _isolated(work: Callable[[], isolation.Answer]) -> isolation.Answer:
    """work's answer, computed in a child process within LIMITS (in-process where there is no fork)."""
    if not isolation.available():
        return work()
    for locale in LOCALES:  # the hub's own templates compiled once, here: every child inherits them
        _compiled(locale)
    answer = isolation.run(work, LIMITS)
    if answer is None:
        raise TemplateError(f"the template did not finish within its limits ({RENDER_CPU_S} s of CPU time, "
                            f"{RENDER_MEMORY_MB} MB, {RENDER_WALL_S} s in all)")
    return answer


def _checked(template: Template) -> isolation.Answer:
    """In the child: the check's findings ({} when the template is fine)."""
    try:
        for part, source, escape_html in _parts(template):
            _check_part(part, source, escape_html)
        _render(template, dict(SAMPLE), LOCALES[0])
    except BadRequest as refused:
        return {"refused": refused.message}
    except TemplateError as error:
        return {"refused": f"the template fails on sample data: {error.message}"}
    except OverLimit:  # while parsing: Jinja2 folds constant expressions then
        return {"refused": f"the template ran over {RENDER_CPU_S} s of CPU time"}
    except MemoryError:
        return {"refused": f"the template needs more than {RENDER_MEMORY_MB} MB"}
    except RecursionError:
        return {"refused": "the template nests too deeply"}
    return {}


def _check_part(part: str, source: str, escape_html: bool) -> None:
    try:
        tree = _tenant_env(escape_html).parse(source)
    except TemplateSyntaxError as error:
        raise BadRequest(f"{part}, line {error.lineno}: {error.message}") from None
    unknown = sorted(meta.find_undeclared_variables(tree) - set(VARIABLES))
    if unknown:
        line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == unknown[0]), 1)
        raise BadRequest(f"{part}, line {line}: unknown variable '{unknown[0]}' "
                         f"(known: {', '.join(sorted(VARIABLES))})")
    for name in meta.find_referenced_templates(tree):
        if name not in PARTIALS:
            shown = "a computed name" if name is None else f"'{name[:100]}'"
            raise BadRequest(f"{part}: include, import and extends take one of the hub's partials by its quoted "
                             f"name, not {shown} (partials: {', '.join(PARTIALS)})")


def _mail(template: Template, values: dict[str, str], locale: str) -> isolation.Answer:
    """In the child: the rendered mail, or the error."""
    try:
        mail = _render(template, values, locale)
    except TemplateError as error:
        return {"error": error.message}
    return {"subject": mail.subject, "text": mail.text, "html": mail.html}


@cache
def _shipped() -> frozenset[tuple[str, str, str | None]]:
    return frozenset((d.subject, d.text, d.html) for d in (default(kind, locale) for kind in KINDS for locale in LOCALES))


@cache
def _compiled(locale: str) -> None:
    _env(True).get_template("mail/layout.html.j2")
    for name in ("link_block", "footer"):
        _env(False).get_template(f"mail/{name}.{locale}.text.j2")


def _parts(template: Template) -> Iterator[tuple[str, str, bool]]:
    for part, source, escape_html in (("subject", template.subject, False), ("text", template.text, False),
                                      ("html", template.html, True)):
        if source is not None:
            yield part, source, escape_html


class _Budget:
    """Characters a render may still produce."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, chunks: Iterator[str]) -> str:
        out = []
        for chunk in chunks:
            self.left -= len(chunk)
            if self.left < 0:
                raise _Limit(f"the mail is longer than {MAX_OUTPUT} characters")
            out.append(chunk)
        return "".join(out)


class _Limit(Exception):
    """A render ran over one of its limits (the message says which)."""


def _render(template: Template, values: dict[str, str], locale: str) -> RenderedMail:
    budget = _Budget(MAX_OUTPUT)
    _steps.left = MAX_ITERATIONS
    plain, part = _env(False), "subject"
    try:
        subject = " ".join(budget.spend(_tenant_env(False).from_string(template.subject).generate(values)).split())[:200]
        part = "text"  # one line above: no header injection
        text = budget.spend(_tenant_env(False).from_string(template.text).generate(values)).strip()
        if not _has_link(template.text):
            text += "\n\n" + plain.get_template(f"mail/link_block.{locale}.text.j2").render(values).strip()
        footer = plain.get_template(f"mail/footer.{locale}.text.j2").render(values).strip()
        part = "html"
        if template.html:
            body = Markup(budget.spend(_tenant_env(True).from_string(template.html).generate(values)))
            if not _has_link(template.html):
                body += Markup("<p>") + _links(plain.get_template(f"mail/link_block.{locale}.text.j2").render(values), values) \
                    + Markup("</p>")
        else:
            body = Markup("").join(Markup('<p style="margin:0 0 1em;">') + _links(p, values) + Markup("</p>")
                                   for p in re.split(r"\n\s*\n", text) if p.strip())
        html = budget.spend(_env(True).get_template("mail/layout.html.j2").generate(
            locale=locale, subject=subject, body=body, footer=_links(footer, values)))
    except _Limit as limit:
        raise TemplateError(f"{part}: {limit}") from None
    except OverLimit:
        raise TemplateError(f"{part}: the render ran over {RENDER_CPU_S} s of CPU time") from None
    except TemplateSyntaxError as error:
        raise TemplateError(f"{part}, line {error.lineno}: {error.message}") from None
    except TemplateNotFound as error:
        raise TemplateError(f"{part}: '{str(error.name)[:100]}' is not one of the hub's partials") from None
    except MemoryError:
        raise TemplateError(f"{part}: the render needs more than {RENDER_MEMORY_MB} MB") from None
    except RecursionError:
        raise TemplateError(f"{part}: the render recurses too deeply") from None
    except (UndefinedError, SecurityError, TypeError, ValueError, LookupError, ArithmeticError, AttributeError) as error:
        # the exception's class, never its message: a message may quote a person's value
        raise TemplateError(f"{part}: the template fails ({type(error).__name__})") from None
    return RenderedMail(subject=subject, text=f"{text}\n\n{footer}\n", html=html)


def _has_link(source: str) -> bool:
    """Whether a template shows the Career Relay link itself, or through the link block partial."""
    tree = _env(False).parse(source)
    return LINK in meta.find_undeclared_variables(tree) or any(
        (name or "").startswith("mail/link_block.") for name in meta.find_referenced_templates(tree))


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
