"""Where a run's local files go (publishing, the reports page and the run tab agree on the names)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

from include.perfpipe.errors import ConfigError
from include.perfpipe.vocabulary import REPORTS_DIR_ENV

_OUTSIDE_FOLDER_NAME = re.compile(r"[^A-Za-z0-9._-]|^\.")


def folder_name(name: str) -> str:
    """A dag id or run id as one folder name, the same for publishing, the reports page and the run tab.

    One-to-one (``a:b`` and ``a+b`` stay apart) and never ``.``, ``..`` or a path: each character outside
    ``[A-Za-z0-9._-]``, and a leading dot, becomes ``~XX`` per UTF-8 byte (``~`` itself too, so it decodes
    back). ``~`` is unreserved in URLs, so a folder name is also its own URL path segment.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"run folder: expected a non-empty dag or run id, got {name!r}")
    return _OUTSIDE_FOLDER_NAME.sub(lambda found: "".join(f"~{byte:02X}" for byte in found.group().encode()), name)


def folder_id(folder: str) -> str:
    """The dag or run id a ``folder_name`` came from."""
    return unquote(folder.replace("~", "%"))


def run_dir(dag_id: str, run_id: str) -> Path:
    """``$PERFPIPE_REPORTS_DIR/<dag folder>/<run folder>`` (default ``reports/``; ``folder_name`` of
    each), created if missing."""
    path = Path(os.environ.get(REPORTS_DIR_ENV, "reports")) / folder_name(dag_id) / folder_name(run_id)
    path.mkdir(parents=True, exist_ok=True)
    return path
