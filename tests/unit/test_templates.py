"""The template adapter's limits: tenants' templates are checked and rendered in a child process
within CPU, memory, loop and output limits; any text is a template or a 400, never a crash."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters import isolation, templates
from chalicelib.domain.errors import BadRequest, TemplateError
from chalicelib.domain.mail import Template

RUNAWAY = [
    "{% for a in range(3000) %}{% for b in range(3000) %}{% endfor %}{% endfor %}",
    "{% for a in range(400) %}{% for b in range(400) %}{{ a }}{% endfor %}{% endfor %}",
    "{{ 'x' * 2000000 }}",
    "{{ 'x' * 2000000000 }}",
    "{{ 'x'|center(999999999) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "{% for c in 'ab' recursive %}{{ loop('ab') }}{% endfor %}",
]


@pytest.mark.parametrize("text", RUNAWAY)
def test_a_runaway_template_is_stopped_within_its_limits(text):
    started = time.monotonic()
    with pytest.raises(TemplateError) as stopped:
        templates.render(Template(subject="s", text=text), templates.SAMPLE, "ja")
    assert time.monotonic() - started < templates.RENDER_WALL_S + 1
    message = stopped.value.message  # the part and the limit; or, for a child ended by the kernel, all the limits
    assert stopped.value.status == 400 and (message.startswith("text: ") or "within its limits" in message)


def test_the_parent_folds_no_constants_of_a_tenants_template():
    """Jinja2 computes constant expressions while compiling: a check must do that in the child too."""
    started = time.monotonic()
    with pytest.raises(BadRequest, match="MB"):
        templates.check(Template(subject="s", text="{{ 'x' * 2000000000 }}"))
    assert time.monotonic() - started < templates.RENDER_WALL_S + 1


def test_error_messages_name_the_problem_never_the_value():
    with pytest.raises(TemplateError) as failed:
        templates.render(Template(subject="s", text="{{ {}[person_name] }}"),  # Jinja2's message would quote the key
                         {**templates.SAMPLE, "person_name": "秘密の名前"}, "ja")
    assert "秘密" not in failed.value.message


def test_the_shipped_defaults_render_in_process(monkeypatch):
    monkeypatch.setattr(isolation, "run", lambda *args: pytest.fail("the defaults are the hub's own code"))
    for kind in templates.KINDS:
        assert templates.render(templates.default(kind, "ja"), templates.SAMPLE, "ja").text


def test_a_child_that_does_not_answer_in_time_is_killed():
    started = time.monotonic()
    assert isolation.run(lambda: time.sleep(30) or {}, isolation.Limits(cpu_s=1, kill_cpu_s=2, memory_mb=64, wall_s=0.5)) is None
    assert time.monotonic() - started < 3


def test_a_child_answers_through_the_pipe():
    answer = isolation.run(lambda: {"text": "字" * 200_000}, templates.LIMITS)
    assert answer == {"text": "字" * 200_000}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), st.lists(st.sampled_from(
    ["{{", "}}", "{%", "%}", " for x in range(9) ", " endfor ", " include ", "'mail/footer.ja.text.j2'", " person_name ",
     "|", "length", " * ", "99999999", " if ", " endif ", " macro m() ", " endmacro ", "m()", "(", ")", "~", "'x'"]),
    max_size=20).map("".join)))
def test_any_text_is_a_template_or_a_400(text):
    try:
        templates.check(Template(subject="s", text=text))
    except BadRequest:
        return
    templates.render(Template(subject="s", text=text), templates.SAMPLE, "en")


NAMED = {"name": "山田 太郎", "family_name": "山田", "given_name": "太郎", "company_name": "サンプル株式会社",
         "relay_link": "https://hub.example.com/r/x", "unsubscribe_link": "https://hub.example.com/u/x",
         "link_expires_on": "2026-12-25", "postal_address": "東京都", "contact": "c@example.com"}


@pytest.mark.parametrize("kind", templates.KINDS)
def test_japanese_defaults_address_the_person_by_name_or_else_in_general(kind):
    named = templates.render(templates.default(kind, "ja"), NAMED, "ja").text
    assert named.startswith("山田 太郎 様\n")
    nameless = templates.render(templates.default(kind, "ja"), {**NAMED, "name": None}, "ja").text
    first = nameless.splitlines()[0]
    assert first.endswith("様") and not first.startswith((" ", "様")) and "None" not in nameless
    assert " 様" not in nameless and "様の今後" not in nameless


@pytest.mark.parametrize("kind", templates.KINDS)
def test_english_defaults_say_dear_and_the_name(kind):
    named = templates.render(templates.default(kind, "en"), {**NAMED, "name": "Hector Porter"}, "en").text
    assert named.startswith("Dear Hector Porter,\n")
    nameless = templates.render(templates.default(kind, "en"), {**NAMED, "name": ""}, "en").text
    assert nameless.startswith("Dear ") and not nameless.startswith("Dear ,")


def test_the_rejection_closes_with_the_same_name():
    text = templates.render(templates.default("rejection", "ja"), NAMED, "ja").text
    assert "末筆ながら、山田 太郎 様の今後ますますのご活躍" in text


def test_the_preview_lists_the_name_variables():
    for name in ("name", "family_name", "given_name", "name_kana"):
        assert name in templates.VARIABLES and name in templates.SAMPLE
