"""The findings as a DBA's summary: grouped by table (or server, database, query), worst first, one line per
check, each line naming what the problem costs."""

from __future__ import annotations

from collections.abc import Callable

from .findings import age_words, severity_rank, size_words

Line = Callable[[list[dict], str], str]


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _evidence(f: dict) -> dict:
    """The evidence mapping (a bundle from elsewhere may carry a plain string)."""
    return f["evidence"] if isinstance(f.get("evidence"), dict) else {}


def _bytes(findings: list[dict], key: str) -> int:
    return sum(_evidence(f).get(key) or 0 for f in findings)


def _short(table: str) -> str:
    return table.split(".", 1)[1] if table.startswith("public.") else table


def _redundant(fs: list[dict], table: str) -> str:
    more = "one more index" if len(fs) == 1 else f"{len(fs)} more indexes"
    return (
        f"{_plural(len(fs), 'redundant index', 'redundant indexes')} ({size_words(_bytes(fs, 'index_bytes'))}); "
        f"each write to {_short(table)} updates {more} than it needs"
    )


def _unused(fs: list[dict], table: str) -> str:
    if "index" not in fs[0]["evidence"]:  # the one line saying the statistics are too young
        return fs[0]["recommendation"]
    ev = fs[0]["evidence"]
    writes = (
        f"{ev['table_writes']:,} writes to {_short(table)} maintained them"
        if ev["table_writes"]
        else f"no writes to {_short(table)}"
    )
    return (
        f"{_plural(len(fs), 'unused index', 'unused indexes')} ({size_words(_bytes(fs, 'index_bytes'))}): no scan "
        f"in {age_words(ev['statistics_age_s'])} of statistics, {writes}"
    )


def _invalid(fs: list[dict], table: str) -> str:
    return (
        f"{_plural(len(fs), 'invalid index', 'invalid indexes')} ({size_words(_bytes(fs, 'index_bytes'))}) "
        "that no query uses, still updated on every write"
    )


def _useless(fs: list[dict], table: str) -> str:
    return (
        f"{_plural(len(fs), 'index', 'indexes')} on a column holding one value "
        f"({size_words(_bytes(fs, 'index_bytes'))}) that the planner will not use"
    )


def _index_bloat(fs: list[dict], table: str) -> str:
    return f"{_plural(len(fs), 'bloated index', 'bloated indexes')}: {size_words(_bytes(fs, 'bloat_bytes'))} to reclaim"


def _table_bloat(fs: list[dict], table: str) -> str:
    ev = fs[0]["evidence"]
    return f"about {size_words(ev['bloat_bytes'])} of bloat ({ev['bloat_pct']} % of the table)"


def _ago(done: str, days: float | None) -> str:
    return f"never {done}" if days is None else f"{done} {age_words(days * 86400)} ago"


def _stale_vacuum(fs: list[dict], table: str) -> str:
    ev = fs[0]["evidence"]
    crossed = ev["crossed"][0]
    when = _ago("vacuumed", ev["days_since_vacuum"])
    if crossed["trigger"] == "vacuum":
        return f"{ev['dead_tuples']:,} dead tuples, past autovacuum's trigger of {crossed['threshold']:,.0f}; {when}"
    return (
        f"{crossed['count']:,.0f} rows inserted, past autovacuum's insert trigger of {crossed['threshold']:,.0f}; "
        f"{when}"
    )


def _stale_analyze(fs: list[dict], table: str) -> str:
    ev = fs[0]["evidence"]
    when = _ago("analyzed", ev["days_since_analyze"])
    return (
        f"{ev['modified_since_analyze']:,} rows changed since the planner's statistics, past autovacuum's trigger "
        f"of {ev['crossed'][0]['threshold']:,.0f}; {when}"
    )


def _seq_scans(fs: list[dict], table: str) -> str:
    ev = fs[0]["evidence"]
    return (
        f"{ev['seq_tup_read']:,} rows read by {_plural(ev['seq_scan'], 'sequential scan')} "
        f"({ev['index_use_pct']} % of scans by index)"
    )


def _index_advice(fs: list[dict], table: str) -> str:
    parts = []
    for f in fs:
        ev = f["evidence"]
        columns = ", ".join(ev.get("columns") or ev["index"]["columns"])
        if ev.get("status") == "verified":
            parts.append(
                f"an index on ({columns}) cuts the planner's cost {ev['cost_before']:g} -> {ev['cost_after']:g}"
            )
        else:
            parts.append(f"an index on ({columns}) suggested, not verified by the planner")
        if ev.get("share_pct") is not None:
            parts[-1] += f", for queries taking {ev['share_pct']} % of query time"
    return "; ".join(parts)


def _slow_query(fs: list[dict], table: str) -> str:
    ev = fs[0]["evidence"]
    query = " ".join(ev["query"].split())
    return (
        f"{ev['mean_ms']:,.1f} ms mean over {ev['calls']:,} calls, {ev.get('share_pct', 0)} % of query time: "
        f"{query[:80]}{'...' if len(query) > 80 else ''}"
    )


def _autovacuum_blocked(fs: list[dict], table: str) -> str:
    ev = fs[0]["evidence"]
    if "settings" in ev:
        settings = ", ".join(f"{k} = {v}" for k, v in ev["settings"].items())
        return (
            f"{settings}: {ev['dead_tuples']:,} dead tuples wait, "
            f"{_plural(len(ev['tables_past_a_trigger']), 'table')} past a trigger autovacuum would act on"
        )
    return f"autovacuum will not vacuum it ({'; '.join(ev['reasons'])}); {ev['dead_tuples']:,} dead tuples"


def _sequence(fs: list[dict], table: str) -> str:
    ev = fs[0]["evidence"]
    return f"{ev['used_pct']:g} % of its limit used ({ev['last_value']:,} of {ev['limit']:,})"


def _xid_age(fs: list[dict], table: str) -> str:
    ev = fs[0]["evidence"]
    return f"transaction ID age {ev['xid_age']:,}, {100 * ev['xid_age'] / 2**31:.0f} % of the way to wraparound"


LINES: dict[str, Line] = {
    "duplicate_indexes": _redundant,
    "unused_indexes": _unused,
    "invalid_indexes": _invalid,
    "useless_indexes": _useless,
    "index_bloat": _index_bloat,
    "table_bloat": _table_bloat,
    "stale_vacuum": _stale_vacuum,
    "stale_analyze": _stale_analyze,
    "seq_scans": _seq_scans,
    "index_advice": _index_advice,
    "fk_without_index": _index_advice,
    "slow_queries": _slow_query,
    "autovacuum_blocked": _autovacuum_blocked,
    "sequence_exhaustion": _sequence,
    "xid_wraparound": _xid_age,
}


def _first_sentence(text: str) -> str:
    return text.split(". ", 1)[0].rstrip(".")


def subject(f: dict) -> str:
    """What a finding is grouped under: its table where it has one, else its object (server, database, query)."""
    return _evidence(f).get("table") or f["object"]


def digest(findings: list[dict]) -> list[dict]:
    """``[{subject, severity, bytes, lines: [{check, severity, count, text}]}]``: one group per table (server,
    database, query), the worst first (severity, then server- and database-wide before tables, then the bytes at
    stake), one line per check and severity, the worst line first."""
    groups: dict[str, dict[tuple[str, str], list[dict]]] = {}
    for f in findings:
        groups.setdefault(subject(f), {}).setdefault((f["severity"], f["check"]), []).append(f)
    out = []
    for name, by_check in groups.items():
        lines = []
        for (severity, check), fs in sorted(by_check.items(), key=lambda kv: severity_rank(kv[0][0])):
            try:
                text = LINES[check](fs, name) if check in LINES else _first_sentence(fs[0]["recommendation"])
            except (KeyError, TypeError, IndexError):  # evidence not as this version writes it: say it plainly
                text = _first_sentence(fs[0]["recommendation"])
            lines.append({"check": check, "severity": severity, "count": len(fs), "text": text})
        every = [f for fs in by_check.values() for f in fs]
        at_stake = sum(
            _bytes([f], "index_bytes") + _bytes([f], "bloat_bytes") + _bytes([f], "dead_bytes")
            for f in every
            if f["severity"] != "info"
        )
        out.append({"subject": name, "severity": lines[0]["severity"], "bytes": at_stake, "lines": lines})
    # server- and database-wide subjects ("server", a database, "queryid N") carry no schema: before tables
    out.sort(key=lambda g: (severity_rank(g["severity"]), "." in g["subject"], -g["bytes"], g["subject"]))
    return out
