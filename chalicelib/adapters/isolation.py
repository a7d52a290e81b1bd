"""Untrusted work in a forked child process with hard limits (a tenant's mail template: templates.py).

The workers that run it (the notice consumer, the admin API) serve every tenant, so the work must
neither take their CPU nor their memory, whatever it does. The parent forks; the child sets its
limits, runs the work and writes its answer (a JSON object) to a pipe; the parent reads it with a
deadline and reaps the child:
  - CPU: a profiling timer (ITIMER_PROF) raises OverLimit in the child after `cpu_s` of CPU time,
    so the work can say which limit it hit; RLIMIT_CPU (`kill_cpu_s`) lets the kernel end a child
    stuck inside one C call, where no Python signal handler runs;
  - memory: RLIMIT_AS allows `memory_mb` of address space beyond what the child was forked with
    (an allocation past it is a MemoryError in the child);
  - time: the parent kills a child that has not answered within `wall_s` (it may be starved of
    CPU, or blocked).
Why a process: a thread cannot be stopped or held to a memory limit; a fork copies nothing up
front (copy-on-write), needs no /dev/shm or semaphores (Lambda has neither), and works in Lambda,
whose handler runs alone in its process. The cost is the fork and the pages the child touches:
some 10-30 ms. Callers fall back to running in-process where the platform has no fork.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Answer = dict[str, str]


@dataclass(frozen=True)
class Limits:
    cpu_s: float       # CPU time, after which the work is interrupted with OverLimit
    kill_cpu_s: int    # CPU time, after which the kernel kills the child
    memory_mb: int     # address space beyond the forked process's
    wall_s: float      # time the parent waits for an answer


class OverLimit(Exception):  # noqa: N818 - what the work hears when it ran over its CPU time
    """Raised inside the child when its CPU time is up."""


def available() -> bool:
    return hasattr(os, "fork") and hasattr(signal, "setitimer")


def run(work: Callable[[], Answer], limits: Limits) -> Answer | None:
    """work's answer, computed in a child within the limits; None when the child was killed, died
    or answered nothing readable. work should turn its own failures (OverLimit, MemoryError
    included) into an answer: anything it lets escape ends the child without one."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(work, limits, write_end)
    os.close(write_end)
    try:
        return _read(read_end, pid, time.monotonic() + limits.wall_s)
    finally:
        os.close(read_end)


def _child(work: Callable[[], Answer], limits: Limits, write_end: int) -> None:
    code = 1
    try:
        for number in (signal.SIGTERM, signal.SIGINT):  # the parent's handlers are not the child's
            signal.signal(number, signal.SIG_DFL)
        _limit_memory(limits.memory_mb)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.kill_cpu_s, limits.kill_cpu_s + 1))
        signal.signal(signal.SIGPROF, _out_of_time)
        signal.setitimer(signal.ITIMER_PROF, limits.cpu_s)
        answer = work()
        signal.setitimer(signal.ITIMER_PROF, 0)
        view = memoryview(json.dumps(answer, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        while view:
            view = view[os.write(write_end, view):]
        code = 0
    except BaseException:  # noqa: BLE001 - a child ends here whatever happened, and says nothing
        code = 1
    finally:
        os._exit(code)


def _out_of_time(*_signal: object) -> None:
    raise OverLimit("over its CPU time")


def _limit_memory(memory_mb: int) -> None:
    """Allow memory_mb of address space beyond what the child was forked with (Linux's /proc)."""
    with contextlib.suppress(OSError, ValueError):
        found = re.search(r"^VmSize:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
        if found:
            limit = int(found.group(1)) * 1024 + memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _read(read_end: int, pid: int, deadline: float) -> Answer | None:
    """The child's answer, or None when it died or ran out of time (then it is killed); the child reaped."""
    chunks: list[bytes] = []
    finished = False
    try:
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([read_end], [], [], left)
            if not ready:
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                finished = True
                break
            chunks.append(chunk)
    finally:
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if not finished or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        answer = json.loads(b"".join(chunks).decode("utf-8", "surrogatepass"))
    except ValueError:
        return None
    if not isinstance(answer, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in answer.items()):
        return None
    return answer
