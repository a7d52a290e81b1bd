"""docs/sources.md lists exactly the registered sources, each with its events and signing."""
from __future__ import annotations

import re
from pathlib import Path

from integrations.registry import POLLED, SOURCES

DOC = Path(__file__).resolve().parents[2] / "docs" / "sources.md"


def rows() -> dict[str, str]:
    found = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([a-z_]+)` \|", line)
        if match:
            found[match.group(1)] = line
    return found


def test_every_registered_source_has_a_row_and_every_row_a_source():
    assert set(rows()) == set(SOURCES) | set(POLLED)


def test_each_row_names_the_events_the_adapter_handles():
    documented = rows()
    for name, adapter in {**SOURCES, **POLLED}.items():
        for event in adapter.EVENTS:
            assert event in documented[name], f"{name}: {event} is not in docs/sources.md"
        assert ("polled" in documented[name]) == (name in POLLED), name


def test_every_test_the_threat_model_names_exists():
    """docs/security.md names, for each rule, the test that proves it: a renamed or deleted test
    would leave a rule unproven, so every name there must be a test that exists."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "security.md").read_text(encoding="utf-8")
    named = re.findall(r"(tests/[\w/]+\.py)((?:::[\w\[\]-]+|; ::[\w\[\]-]+)*)", text)
    assert named
    missing = []
    for path, tail in named:
        source = (root / path).read_text(encoding="utf-8") if (root / path).exists() else None
        if source is None:
            missing.append(path)
            continue
        for name in re.findall(r"::(\w+)", tail):
            if not re.search(rf"def {name}\b", source):
                missing.append(f"{path}::{name}")
    assert missing == []
