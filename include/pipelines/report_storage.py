"""Where reports are published: ``ObjectStoragePath(PERFPIPE_REPORTS_URL)/<dag_id>/<run>/``, and the copy there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from include.perfpipe.vocabulary import REPORTS_DIR_ENV, REPORTS_URL_ENV


def reports_base() -> str:
    """``$PERFPIPE_REPORTS_URL`` (``s3://``, ``gs://``, ``file://``), else the local reports folder."""
    return os.environ.get(REPORTS_URL_ENV) or Path(os.environ.get(REPORTS_DIR_ENV, "reports")).resolve().as_uri()


def publish_folder(local_dir: Path, base: str) -> str:
    """Copy a rendered report folder (``<dag folder>/<run folder>``, ``runs.run_dir``) to the same two
    folders under ``base``; returns the report.html URL.

    ``summary.json`` is copied last, so its presence means the whole report has arrived.
    """
    from airflow.sdk import ObjectStoragePath

    local_dir = Path(local_dir).resolve()
    dest = ObjectStoragePath(base) / local_dir.parent.name / local_dir.name
    if dest.protocol == "file" and Path(dest.path).resolve() == local_dir:
        return str(dest / "report.html")  # rendered in place: nothing to copy
    files = sorted((p for p in local_dir.rglob("*") if p.is_file()), key=lambda p: (p.name == "summary.json", p))
    for src in files:
        target = dest / src.relative_to(local_dir).as_posix()
        target.parent.mkdir(parents=True, exist_ok=True)
        with src.open("rb") as fin, target.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
    return str(dest / "report.html")
