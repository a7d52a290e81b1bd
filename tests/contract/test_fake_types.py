"""Every fake satisfies its port's Protocol (checked statically by mypy at the bottom of tests/fakes.py),
and fake_ports() builds a complete bundle."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.services.ports import Ports
from tests.fakes import Clock, FakeMailer, Memory, fake_ports

ROOT = Path(__file__).resolve().parents[2]


def test_the_fakes_satisfy_the_port_protocols() -> None:
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--cache-dir=/dev/null",
                              "--no-error-summary", "tests/fakes.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_fake_ports_builds_every_port_on_one_memory_and_clock() -> None:
    clock, mailer = Clock(), FakeMailer()
    ports = fake_ports(clock=clock, memory=Memory(), mailer=mailer)

    assert ports.clock is clock and ports.mailer is mailer
    assert all(getattr(ports, name) is not None for name in Ports.__dataclass_fields__)
    assert "greenhouse" in ports.sources and "herp" in ports.polled and "standard" in ports.secret_formats
    assert set(ports.enriched) < set(ports.sources) and "career_relay" in ports.agency_clients
    with pytest.raises(TypeError):
        fake_ports(no_such_port=object())
