"""How long this database's statistics have been counting: the evidence window of every "never" and "since"."""

from __future__ import annotations

from datetime import timedelta

import psycopg

_STATISTICS_AGE = """
SELECT now() AS now, d.stats_reset, pg_postmaster_start_time() AS server_start,
       has_function_privilege('pg_stat_file(text)', 'EXECUTE') AS may_stat_files
  FROM pg_stat_database d WHERE d.datname = current_database()
"""
# The database's creation: its PG_VERSION file, written by CREATE DATABASE and never again. Readable only with
# pg_stat_file (superuser, pg_read_server_files or a grant), whose privilege PostgreSQL checks when it prepares
# the query, so a CASE around the call would not spare a monitoring role the error: a query of its own.
# pg_stat_file gives whole seconds (st_mtime), so the creation moment lies anywhere in the second after the stamp:
# a database created 0.4 s after the server started read as created before it (CI, pg18).
# The latest moment the window may have begun is the honest "since": it never claims statistics older than they are.
_STAMP_RESOLUTION = timedelta(seconds=1)
_DATABASE_CREATED = """
SELECT (pg_stat_file(regexp_replace(pg_relation_filepath('pg_class'), '[^/]+$', 'PG_VERSION'))).modification AS t
"""


def statistics_since(conn: psycopg.Connection) -> dict:
    """Since when this database's statistics have been counting: ``{since, source, age_s}``, the latest of
    their reset (``pg_stat_database.stats_reset``; else the server's start, after which a crash may have
    dropped them) and the database's creation, where the role may read it (else a database created an hour
    ago on a server up for a month would look a month old)."""
    row = conn.execute(_STATISTICS_AGE).fetchone()
    candidates = [(row["stats_reset"], "stats_reset") if row["stats_reset"] else (row["server_start"], "server start")]
    if row["may_stat_files"]:
        created = conn.execute(_DATABASE_CREATED).fetchone()["t"]
        candidates.append((min(created + _STAMP_RESOLUTION, row["now"]), "database created"))
    since, source = max((c for c in candidates if c[0] is not None), key=lambda c: c[0])
    return {"since": since, "source": source, "age_s": max((row["now"] - since).total_seconds(), 0.0)}
