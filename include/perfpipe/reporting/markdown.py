"""``summary.md``: a short summary for a PR comment or a chat message."""

from __future__ import annotations

import re

_ICON = {"pass": "✅", "fail": "❌", "invalid": "⚠️", "error": "🛑"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!])")
MAX_FAILED_LISTED = 10
MAX_DB_GROUPS_LISTED = 5


def md_text(value: object) -> str:
    """Text from the target or the DB, inert in Markdown (no HTML, links, tables or emphasis)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def md_code(value: object) -> str:
    """An inline code span; backticks inside become quotes so the span cannot be closed early."""
    return "`" + " ".join(str(value).split()).replace("`", "'") + "`"


def _num(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render_markdown(summary: dict) -> str:
    run, verdict = summary["run"], summary["verdict"]
    lines = [
        f"### {_ICON[verdict['verdict']]} perfpipe {verdict['headline']}: "
        f"{md_text(run['target'])} / {md_text(run['profile'])}",
        "",
        md_text(verdict["reason"]),
        "",
        f"DAG {md_code(run['dag_id'])} · run {md_code(run['run_id'])} · version {md_code(run.get('version') or '–')}",
    ]
    totals = summary.get("totals")
    if totals:
        lines += [
            "",
            "| requests | req/s | p50 ms | p95 ms | p99 ms | errors |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {_num(totals['requests'], 0)} | {_num(totals['rps'])} | {_num(totals['p50_ms'])} | "
            f"{_num(totals['p95_ms'])} | {_num(totals['p99_ms'])} | "
            f"{_num(None if totals['error_rate'] is None else totals['error_rate'] * 100, 2)} % |",
        ]
    failed = [c for c in summary["thresholds"] if not c["success"]]
    lines += ["", f"Thresholds: {len(summary['thresholds']) - len(failed)} passed, {len(failed)} failed."]
    for c in failed[:MAX_FAILED_LISTED]:
        lines.append(
            f"- {md_text(c.get('class_name'))} {md_text(c.get('metric'))} ({md_text(c.get('window'))}): "
            f"observed {md_text(c.get('observed'))}, limit {md_text(c.get('operator'))} "
            f"{md_text(c.get('threshold'))}"
        )
    if len(failed) > MAX_FAILED_LISTED:
        lines.append(f"- … and {len(failed) - MAX_FAILED_LISTED} more in the report")
    journey = summary.get("journey")
    if journey:
        failing = [c for c in journey["checks"] if c["failed"]]
        lines += [
            "",
            f"Journey: {_num(journey['iterations'], 0)} iterations, {len(journey['checks'])} checks"
            + (
                f", lowest pass rate {md_text(failing[0]['check'])} {_num(failing[0]['pass_rate'] * 100, 2)} %."
                if failing
                else ", all passed."
            ),
        ]
    if summary.get("database"):
        counts = summary["database"]["counts"]
        lines += [
            "",
            f"DB findings: {counts['critical']} critical, {counts['warning']} warnings, {counts['info']} info.",
        ]
        worst = [g for g in summary["database"].get("digest") or [] if g["severity"] != "info"]
        for group in worst[:MAX_DB_GROUPS_LISTED]:
            lines += [f"- {md_text(group['subject'])}: " + "; ".join(md_text(x["text"]) for x in group["lines"])]
        if len(worst) > MAX_DB_GROUPS_LISTED:
            lines.append(f"- … and {len(worst) - MAX_DB_GROUPS_LISTED} more in the report")
        headline = (summary["database"].get("tuning") or {}).get("headline")
        if headline:
            lines += ["", f"DB tuning: {md_text(headline)}."]
    baseline = summary.get("baseline")
    if baseline:
        deltas = [
            f"{m} {d['delta_pct']:+.1f} %"
            for m, d in baseline["metrics"].items()
            if m in ("rps", "p95_ms", "p99_ms") and d["delta_pct"] is not None
        ]
        if deltas:
            lines += ["", f"Against baseline {md_code(baseline['run_id'])}: " + ", ".join(deltas) + "."]
    gate = (summary.get("regression") or {}).get("gate") or {}
    if gate.get("reason"):
        lines += ["", f"Regression: {'**regressed**: ' if gate.get('regressed') else ''}{md_text(gate['reason'])}"]
    noise = (summary.get("regression") or {}).get("noise") or {}
    if noise.get("headline"):
        lines += ["", f"Night-to-night noise: {md_text(noise['headline'])}."]
    if run.get("report_url"):
        lines += ["", f"[Full report]({run['report_url']})"]
    return "\n".join(lines) + "\n"
