"""`make bench` on a slower machine (issue 22 point 5): time limits scale with a calibration, and a
step that does not finish is reported while the run goes on. Nothing here runs the benchmark."""
from __future__ import annotations

import json
import subprocess

import pytest

from bench import common, run, slowness, steps


def test_the_slowness_is_the_bare_put_p50_against_the_reference_machines_never_below_1():
    assert slowness.factor(slowness.REFERENCE_PUT_P50_MS) == 1.0
    assert slowness.factor(11.0) == pytest.approx(11.0 / 2.7, abs=0.01)   # the 2026-12-01 machine: about 4x
    assert slowness.factor(1.0) == 1.0                                     # a faster machine keeps the written limits


def test_a_limit_written_for_the_reference_machine_grows_with_the_slowness_and_headroom(monkeypatch):
    monkeypatch.setenv("BENCH_SLOWNESS", "4.07")
    # the memory replay's 600 s, which a 4x slower machine hit, becomes 600 x 4.07 x 2
    assert common.limit_s(600) == pytest.approx(600 * 4.07 * slowness.HEADROOM)
    monkeypatch.setenv("BENCH_SLOWNESS", "1")
    assert common.limit_s(3600) == 3600 * slowness.HEADROOM
    assert common.limit_s(600) >= 600


def test_bench_slowness_in_the_environment_is_taken_as_given(monkeypatch):
    monkeypatch.setenv("BENCH_SLOWNESS", "0.01")

    def never(*_args, **_kwargs):
        raise AssertionError("no calibration child when BENCH_SLOWNESS is given")

    monkeypatch.setattr(common, "run_child", never)
    calibration = slowness.calibrate("http://endpoint", {}, lambda url, env: env)
    assert (calibration["status"], calibration["slowness"]) == ("given", 0.01)
    assert common.limit_s(600) == pytest.approx(12.0)


def test_the_calibration_sets_the_slowness_for_the_run_and_the_ingest_put_can_raise_it(monkeypatch):
    monkeypatch.delenv("BENCH_SLOWNESS", raising=False)
    monkeypatch.setattr(common, "run_child", lambda *_a, **_k: {"bare_put": {"p50_ms": 5.4, "p99_ms": 9.0, "n": 200}})
    calibration = slowness.calibrate("http://endpoint", {}, lambda url, env: env)
    assert (calibration["status"], calibration["slowness"]) == ("ok", 2.0)
    assert common.slowness() == 2.0
    slowness.raise_to(calibration, 10.8)   # the ingest step's 400 puts say slower
    assert calibration["slowness"] == 4.0 and common.slowness() == 4.0
    slowness.raise_to(calibration, 2.7)    # never lowered
    assert common.slowness() == 4.0


def test_a_calibration_that_does_not_finish_assumes_a_very_slow_machine(monkeypatch):
    monkeypatch.delenv("BENCH_SLOWNESS", raising=False)

    def out_of_time(*_args, **_kwargs):
        raise common.StepIncomplete("bench.slowness 200 ran out of time (240 s)")

    monkeypatch.setattr(common, "run_child", out_of_time)
    calibration = slowness.calibrate("http://endpoint", {}, lambda url, env: env)
    assert (calibration["status"], calibration["slowness"]) == ("incomplete", slowness.FALLBACK)
    assert common.slowness() == slowness.FALLBACK


def _child(monkeypatch, tmp_path, outcome):
    """run_child with a child that writes progress, then ends as `outcome` says."""
    monkeypatch.setattr(common, "ROOT", tmp_path)
    monkeypatch.setenv("BENCH_SLOWNESS", "1")
    seen = {}

    def fake_run(command, **kwargs):
        seen["timeout"] = kwargs["timeout"]
        monkeypatch.setattr("sys.argv", ["bench.memory", command[3]])
        common.progress({"webhooks_replayed": 2500, "of": 10000, "peak_rss_mb_so_far": 90.1})
        if outcome == "timeout":
            raise subprocess.TimeoutExpired(command, kwargs["timeout"])
        raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr(common.subprocess, "run", fake_run)
    return seen


def test_a_child_that_runs_out_of_time_is_reported_with_what_it_measured(monkeypatch, tmp_path):
    seen = _child(monkeypatch, tmp_path, "timeout")
    with pytest.raises(common.StepIncomplete) as incomplete:
        common.run_child("memory", {}, "10000")
    assert seen["timeout"] == 600 * slowness.HEADROOM
    assert "ran out of time (1200 s)" in incomplete.value.reason and "bench.memory 10000" in incomplete.value.reason
    assert incomplete.value.measured == {"webhooks_replayed": 2500, "of": 10000, "peak_rss_mb_so_far": 90.1}


def test_a_child_that_fails_is_reported_too(monkeypatch, tmp_path):
    _child(monkeypatch, tmp_path, "fails")
    with pytest.raises(common.StepIncomplete, match="failed .exit 1."):
        common.run_child("memory", {}, "10000")


def test_attempt_records_each_steps_status_and_returns_none_for_one_that_did_not_finish():
    done: dict[str, dict] = {}
    assert steps.attempt(done, "cold_start", lambda: {"ratio": 1.5}) == {"ratio": 1.5}

    def out_of_time():
        raise common.StepIncomplete("bench.agency 10000 ran out of time (1200 s)", {"referrals_received_by_agency": 4000})

    def broken():
        raise RuntimeError("a burst sender failed")

    assert steps.attempt(done, "agency", out_of_time) is None
    assert steps.attempt(done, "burst", broken) is None
    assert done["cold_start"]["status"] == "ok"
    assert done["agency"]["status"] == "incomplete" and done["agency"]["measured"] == {"referrals_received_by_agency": 4000}
    assert done["burst"]["status"] == "incomplete" and "RuntimeError" in done["burst"]["reason"]
    assert "a burst sender failed" in done["burst"]["reason"]


def test_make_bench_goes_on_past_every_step_that_does_not_finish_and_lists_them_all(monkeypatch, tmp_path, capsys):
    # GIVEN a machine where every step fails or runs out of time, the memory replay with some progress
    class Endpoint:
        def stop(self) -> None: ...

    class SecondEndpoint:
        class stdout:  # noqa: N801 - stands for a pipe
            @staticmethod
            def readline() -> str:
                return "http://127.0.0.1:2\n"

        class stdin:  # noqa: N801
            @staticmethod
            def close() -> None: ...

        def wait(self, timeout: float) -> int:
            return 0

    def out_of_time(module, *_args, **_kwargs):
        raise common.StepIncomplete(f"bench.{module} ran out of time (1200 s)",
                                    {"webhooks_replayed": 3000} if module == "memory" else {})

    def broken(*_args, **_kwargs):
        raise RuntimeError("the endpoint went away")

    monkeypatch.setenv("BENCH_SLOWNESS", "1")
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results.json")
    monkeypatch.setattr(common, "ROOT", tmp_path)
    monkeypatch.setattr(run.endpoint, "start", lambda: (Endpoint(), "http://127.0.0.1:1"))
    monkeypatch.setattr(run.endpoint, "scale_like_dynamodb", lambda on: None)
    popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda command, *a, **k: SecondEndpoint() if "bench.endpoint" in command
                        else popen(command, *a, **k))
    monkeypatch.setattr(run, "fresh", lambda url, env, **extra: {**env, **extra})
    monkeypatch.setattr(run.coldstart, "measure", broken)
    monkeypatch.setattr(run.common, "run_child", out_of_time)
    for measure in ("measure_scaling", "measure_agency", "measure_burst", "measure_console"):
        monkeypatch.setattr(run, measure, broken)
    # WHEN make bench runs
    assert run.main([]) == 0
    # THEN every step is in results.json as not finished, with its reason, and no flag is judged
    results = json.loads((tmp_path / "results.json").read_text())
    named = {"cold_start", "ingest", "ingest_stock", "memory", "scaling", "agency", "burst", "console"}
    assert set(results["steps"]) == named
    assert all(record["status"] == "incomplete" and record["reason"] for record in results["steps"].values())
    assert results["memory"]["measured"] == {"webhooks_replayed": 3000}
    assert results["cost"]["status"] == "incomplete" and "needs the ingest step" in results["cost"]["reason"]
    assert results["slowness"]["status"] == "given"
    assert all(flag is None for flag in results["met"].values())
    table = capsys.readouterr().out
    for name in ("ingest", "cold_start", "memory", "scaling", "agency", "cost", "burst", "console"):
        assert f"{name}: NOT FINISHED" in table, name
    assert "webhooks_replayed 3000" in table


def test_a_finished_figure_is_judged_and_an_unfinished_one_is_not():
    done = {"memory": {"status": "incomplete", "reason": "ran out of time", "measured": {}}}
    unfinished = steps.incomplete(done, "memory")
    assert steps.judged({"peak_rss_mb": 92.6}, lambda: True) is True
    assert steps.judged(unfinished, lambda: True) is None
    assert steps.flag({"memory.peak_rss_mb": None}, "memory.peak_rss_mb") == "not judged"
