"""Which earlier run a run is compared with, and which of their numbers compare.

Only comparable runs are compared: the same target and profile (the store's query), started before the run
judged, and the same workload shape (``workload_shape``: load model, stages with their durations and levels,
i.e. VUs or arrival rate, and the scenario's endpoints). Among those, the run marked as baseline wins, else
the most recent passing run that the regression gate did not fail or call an outlier (``NOT_BASELINE``): a
regression is never absorbed into the baseline unless the user marks it as the new normal. Counts
(requests, errors) grow with the run's length, so they are compared only between runs of the same
duration; rates and latencies compare across durations.
"""

from __future__ import annotations

import math
from datetime import datetime

from include.perfpipe.vocabulary import NOT_BASELINE

COUNT_METRICS = frozenset({"requests", "errors", "count"})
DURATION_TOLERANCE = 0.01  # 1 %: the measured length of a run varies by a few ms


def workload_shape(spec: dict) -> dict:
    """The comparable part of a ``LoadSpec`` dict: model, level and stages, think time and the scenario.

    Headers, bodies and URLs are left out (they may carry secrets, and the target is compared apart).
    """
    return {
        "model": spec.get("model"),
        "start": spec.get("start", 0.0),
        "max_vus": spec.get("max_vus", 0),
        "stages": [[float(s["duration_s"]), float(s["target"])] for s in spec.get("stages") or []],
        "think_time": spec.get("think_time", spec.get("think_time_s")),  # a ThinkTime dict (a pair before journeys)
        "scenario": sorted(
            [e.get("name"), e.get("method"), e.get("class_name"), float(e.get("weight", 1.0))]
            for e in spec.get("endpoints") or []
        ),
        "journey": _journey_shape(spec.get("journey")),
    }


def _journey_shape(scenario: dict | None) -> dict | None:
    """A journey scenario's steps (name, method, path, class per phase) and its pacing; no headers or bodies."""
    journey = (scenario or {}).get("journey")
    if not isinstance(journey, dict):
        return None

    def steps(phase: str) -> list:
        return [
            [s.get("name"), s.get("method"), s.get("path") or s.get("url"), s.get("class") or s.get("class_name")]
            for s in journey.get(phase) or []
        ]

    return {
        "setup": steps("setup"),
        "steps": steps("steps"),
        "teardown": steps("teardown"),
        "pacing": journey.get("pacing"),
        "think_time": journey.get("think_time"),
    }


def shape_of(load: dict | None) -> dict | None:
    """The workload shape of a ``LoadResult`` dict, None without a load test or its spec."""
    spec = (load or {}).get("spec")
    return workload_shape(spec) if isinstance(spec, dict) else None


def shape_difference(current: dict, other: dict | None) -> str | None:
    """What makes ``other`` incomparable with ``current`` (None when they match)."""
    if not other:
        return "its workload shape was not recorded"
    for key, label in (
        ("model", "load model"),
        ("stages", "stage plan (durations and VUs or rate)"),
        ("start", "start level"),
        ("max_vus", "max VUs"),
        ("think_time", "think time"),
        ("scenario", "scenario"),
        ("journey", "journey"),
    ):
        if current.get(key) != other.get(key):
            return f"a different {label}"
    return None


def choose_baseline(shape: dict | None, candidates: list[dict]) -> tuple[dict | None, str]:
    """The baseline among ``candidates`` (earlier runs of the same target and profile, newest first, each
    with ``is_baseline``, ``verdict``, ``shape`` and optionally ``regression``, the gate's outcome) and a
    sentence saying why, or why there is none."""
    if shape is None:
        return None, "no load test to compare"
    comparable = [c for c in candidates if shape_difference(shape, c.get("shape")) is None]
    marked = next((c for c in comparable if c.get("is_baseline")), None)
    if marked:
        return marked, "the run marked as baseline"
    passing = next(
        (c for c in comparable if c.get("verdict") == "pass" and c.get("regression") not in NOT_BASELINE), None
    )
    if passing:
        mark = next((c for c in candidates if c.get("is_baseline")), None)
        note = f" (the marked baseline has {shape_difference(shape, mark.get('shape'))})" if mark else ""
        return passing, "the last passing run with the same workload" + note
    if not candidates:
        return None, "no earlier run of this target and profile"
    reasons = sorted({shape_difference(shape, c.get("shape")) or _not_passing(c) for c in candidates})
    return None, (
        f"no comparable baseline: the {len(candidates)} earlier run(s) of this target and profile "
        f"have {'; '.join(reasons)}"
    )


def _not_passing(candidate: dict) -> str:
    if candidate.get("verdict") == "pass":
        return f"a regression gate that called it {candidate.get('regression')}"
    return "no pass verdict"


def find_baseline(store, run: dict, shape: dict | None, limit: int = 20) -> dict:
    """``{"baseline", "baseline_note", "history"}`` for a report of ``run``: its baseline (``choose_baseline``
    among the runs of ``store``, a ``ResultsStore``, that started before it), why, and the ``limit`` runs
    before it. Without a ``started_at`` every earlier stored run is a candidate."""
    key = (run["dag_id"], run["run_id"])
    before = as_datetime(run.get("started_at"))
    history = store.history(run["target"], run["profile"], limit=limit + 1, started_before=before)
    history = history[~((history["dag_id"] == key[0]) & (history["run_id"] == key[1]))].tail(limit)
    candidates = store.baseline_candidates(run["target"], run["profile"], key, started_before=before) if shape else []
    baseline, note = choose_baseline(shape, candidates)
    if baseline is not None:
        baseline = {k: v for k, v in baseline.items() if k != "shape"}
    return {
        "baseline": baseline,
        "baseline_note": note,
        "history": history.astype(object).where(history.notna(), None).to_dict("records"),
    }


def as_datetime(value) -> datetime | None:
    """An ISO string (as the DAG's run identity carries it) or a stored timestamp, as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def comparable(metric: str, baseline_duration_s: float | None, current_duration_s: float | None) -> bool:
    """Whether ``metric`` compares between the two runs: always for rates and latencies, for counts only
    when both runs lasted as long (within ``DURATION_TOLERANCE``)."""
    if metric not in COUNT_METRICS:
        return True
    if not baseline_duration_s or not current_duration_s:
        return False
    return math.isclose(baseline_duration_s, current_duration_s, rel_tol=DURATION_TOLERANCE)
