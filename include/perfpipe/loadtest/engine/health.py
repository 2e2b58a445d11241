"""The generator's health rules, one set for every client of the load engine (HTTP load, the DB benchmark).

A generator is **saturated** (its numbers say nothing about the target) when it delayed what it measured: an
event-loop lag p99 above the bound, or, when it is paced (open model), CPU at or above the bound, since it could
not hold the rate. Back to back (closed model) full CPU is the expected state against a fast target and only a
note (``cpu_bound``): the throughput is then the generator's ceiling, a floor of the target's.
"""

from __future__ import annotations

LOOP_LAG_BOUND_MS = 50.0
CPU_BOUND_PERCENT = 95.0


def generator_health(
    lag,
    cpu_percent: float,
    *,
    paced: bool,
    unit: str = "req/s",
    lag_bound_ms: float = LOOP_LAG_BOUND_MS,
    cpu_bound_percent: float = CPU_BOUND_PERCENT,
    reasons: list[str] | None = None,
) -> dict:
    """``{loop_lag_p99_ms, loop_lag_max_ms, cpu_percent, saturated, reasons, cpu_bound, notes}`` from the loop-lag
    HDR histogram (microseconds) and the CPU used; ``reasons`` are the client's own (dropped sends, lost
    connections, ...), listed after the lag reason. ``unit`` names the throughput in the CPU note."""
    counted = lag.get_total_count() > 0
    lag_p99 = lag.get_value_at_percentile(99) / 1000.0 if counted else 0.0
    lag_max = lag.get_max_value() / 1000.0 if counted else 0.0
    found, notes = [], []
    if lag_p99 > lag_bound_ms:
        found.append(f"event-loop lag p99 {lag_p99:.1f} ms above {lag_bound_ms:g} ms: the generator could not keep up")
    found += reasons or []
    cpu_bound = cpu_percent >= cpu_bound_percent
    if cpu_bound:
        cpu = f"generator CPU {cpu_percent:.0f}% at or above {cpu_bound_percent:g}%"
        if paced:
            found.append(f"{cpu}: the generator could not hold the rate")
        else:
            notes.append(f"{cpu}: {unit} is the generator's ceiling, a floor of the target's")
    return {
        "loop_lag_p99_ms": round(lag_p99, 3),
        "loop_lag_max_ms": round(lag_max, 3),
        "cpu_percent": round(cpu_percent, 1),
        "saturated": bool(found),
        "reasons": found,
        "cpu_bound": cpu_bound and not paced,
        "notes": notes,
    }
