"""How long this database's statistics have been counting: the evidence window of every "never" and "since"."""

from __future__ import annotations

import psycopg

# The database's creation: its PG_VERSION file, written by CREATE DATABASE and never again. Readable only with
# pg_stat_file (superuser, pg_read_server_files or a grant); without it, a database created on a server that has
# run for weeks would look weeks old.
_STATISTICS_AGE = """
SELECT now() AS now, d.stats_reset, pg_postmaster_start_time() AS server_start,
       CASE WHEN has_function_privilege('pg_stat_file(text)', 'EXECUTE') THEN
         (pg_stat_file(regexp_replace(pg_relation_filepath('pg_class'), '[^/]+$', 'PG_VERSION'))).modification
       END AS database_created
  FROM pg_stat_database d WHERE d.datname = current_database()
"""


def statistics_since(conn: psycopg.Connection) -> dict:
    """Since when this database's statistics have been counting: ``{since, source, age_s}``, the latest of
    their reset (``pg_stat_database.stats_reset``; else the server's start, after which a crash may have
    dropped them) and the database's creation, where that can be read."""
    row = conn.execute(_STATISTICS_AGE).fetchone()
    candidates = [
        (row["stats_reset"], "stats_reset") if row["stats_reset"] else (row["server_start"], "server start"),
        (row["database_created"], "database created"),
    ]
    since, source = max((c for c in candidates if c[0] is not None), key=lambda c: c[0])
    return {"since": since, "source": source, "age_s": max((row["now"] - since).total_seconds(), 0.0)}
