"""Pure measurement helpers: latency summaries and readings of ``/proc/<pid>``.

Percentiles are :func:`eval.stats.percentile` (nearest rank: the smallest value with at
least q% of the values at or below it), so a figure is a latency some request really had,
and the bench, the stand-alone load client and ``rag eval`` compute them the same way.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path

from eval.stats import percentile

__all__ = ["cpu_seconds", "parse_stat_cpu_ticks", "parse_vmrss_kib", "rss_mib", "summarise"]


def _percentile(values: Sequence[float], q: float) -> float:
    """:func:`percentile`, with the NaN of the bench's figures instead of None when empty."""
    value = percentile(values, q)
    return float("nan") if value is None else value


def summarise(values_ms: Iterable[float]) -> dict[str, float | int]:
    """``n``, ``p50``, ``p95``, ``p99``, ``mean``, ``min`` and ``max`` of latencies in ms.

    An empty input gives ``n == 0`` and NaN elsewhere (JSON ``NaN`` is avoided by the
    writer, which maps it to ``null``).
    """
    values = sorted(values_ms)
    if not values:
        nan = float("nan")
        return {"n": 0, "p50": nan, "p95": nan, "p99": nan, "mean": nan, "min": nan, "max": nan}
    return {
        "n": len(values),
        "p50": _percentile(values, 50),
        "p95": _percentile(values, 95),
        "p99": _percentile(values, 99),
        "mean": statistics.fmean(values),
        "min": values[0],
        "max": values[-1],
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parse_vmrss_kib(status_text: str) -> int:
    """The ``VmRSS`` line of ``/proc/<pid>/status``, in KiB."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1])
            break
    raise ValueError("no VmRSS line in /proc status text (is the process a zombie?)")


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of ``pid`` (default: this process) in MiB."""
    target = "self" if pid is None else str(pid)
    return parse_vmrss_kib(Path(f"/proc/{target}/status").read_text()) / 1024


def parse_stat_cpu_ticks(stat_text: str) -> int:
    """user + system CPU time of ``/proc/<pid>/stat``, in clock ticks.

    The command name (field 2) may contain spaces and parentheses, so fields are counted
    from the last ``)``: after it come state (field 3) ... utime (14) and stime (15).
    """
    rest = stat_text[stat_text.rindex(")") + 1 :].split()
    return int(rest[11]) + int(rest[12])


def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds (user + system, all threads) used so far by ``pid`` (default: this process)."""
    target = "self" if pid is None else str(pid)
    ticks = parse_stat_cpu_ticks(Path(f"/proc/{target}/stat").read_text())
    return ticks / os.sysconf("SC_CLK_TCK")


def parse_system_cpu_ticks(proc_stat_text: str) -> tuple[int, int]:
    """``(busy, total)`` clock ticks of all CPUs from ``/proc/stat``'s first line.

    Idle and iowait are the not-busy part; guest time is already inside user/nice.
    """
    first = proc_stat_text.splitlines()[0].split()
    if first[0] != "cpu":
        raise ValueError("the first line of /proc/stat is not the 'cpu' total")
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(values)
    return total - values[3] - values[4], total


def system_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (all cores summed)."""
    busy, _ = parse_system_cpu_ticks(Path("/proc/stat").read_text())
    return busy / os.sysconf("SC_CLK_TCK")
