"""Thresholds of the database insights: PgHero / check_postgres defaults, overridable per run."""

from __future__ import annotations

import math
from pathlib import Path

from include.perfpipe.config_files import read_yaml
from include.perfpipe.errors import ConfigError, kind

DEFAULT_THRESHOLDS: dict[str, float] = {
    # table analysis (pg_stat_user_tables): past autovacuum's own trigger for the table and not
    # (auto)vacuumed/analyzed within this many days (or never)
    "stale_vacuum_days": 1,
    "stale_analyze_days": 2,
    # unused indexes: statistics must cover this many days before "never scanned" means anything
    "unused_index_min_stats_days": 7,
    # a cost below this many bytes, with nothing else measurable, is info, not a warning
    "negligible_bytes": 1024 * 1024,
    # sequential-scan-heavy tables
    "seq_scan_min_rows": 10_000,
    "index_use_min_pct": 95,
    # slow queries (pg_stat_statements, plan + exec time)
    "slow_query_mean_ms": 20,
    "slow_query_min_calls": 100,
    # index advice (pg_stat_statements + HypoPG): Dexter's 50 % cost cut
    "index_min_cost_cut_pct": 50,
    "index_min_calls": 100,
    "index_max_queries": 50,
    "index_unverified_max_rows_pct": 20,
    "fk_index_min_rows": 1_000,
    "useless_index_min_rows": 1_000,
    # cache hit rate (pg_statio_user_tables / pg_statio_user_indexes)
    "cache_hit_min_pct": 99,
    "cache_hit_min_blocks": 1_000,
    # connections (pg_stat_activity)
    "connections_max_pct": 90,
    "idle_in_transaction_max_count": 100,
    "idle_in_transaction_max_s": 300,
    # long-running queries
    "long_running_s": 60,
    # transaction ID wraparound: age(datfrozenxid), age(relfrozenxid)
    "xid_age_warning": 1_300_000_000,
    "xid_age_critical": 1_400_000_000,
    # sequences near exhaustion, percent of min(sequence max, column type max)
    "sequence_warning_pct": 85,
    "sequence_critical_pct": 95,
    # bloat estimate: both limits must be reached
    "bloat_min_bytes": 100 * 1024 * 1024,
    "bloat_min_pct": 30,
}


def load_config(config: dict | str | Path | None = None) -> dict[str, float]:
    """Defaults overlaid with ``config``: a dict, or a YAML file (its ``database`` section if it has one).

    Unknown keys and values that are not non-negative numbers raise ``ValueError`` naming them.
    """
    source, document, prefix = "config", None, ""
    if isinstance(config, (str, Path)):
        source = str(config)
        document = read_yaml(config)
        data = document.data or {}
        if isinstance(data, dict) and isinstance(data.get("database"), dict):
            data, prefix = data["database"], "database."
        config = data
    config = config or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: database thresholds must be a mapping (got {kind(config)})")
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in config.items():
        where = f" ({document.position(prefix + str(key))})" if document else ""
        if key not in DEFAULT_THRESHOLDS:
            raise ConfigError(
                f"{source}: unknown database threshold {key!r}{where} (known: {', '.join(DEFAULT_THRESHOLDS)})"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise ConfigError(f"{source}: database threshold {key!r} must be a number >= 0 (got {kind(value)}){where}")
        merged[key] = value
    return merged
