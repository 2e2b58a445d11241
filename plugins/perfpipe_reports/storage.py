"""The published reports, ``<root>/<dag_id>/<run folder>/...``, in a local folder or on object storage.

A ``file://`` URL or a plain path is read from disk; any other URL (``s3://conn@bucket/prefix``, ``gs://...``)
through Airflow's ``ObjectStoragePath``, with the filesystem its provider registers (the Airflow connection
named in the URL holds the credentials), opened at the first request, not when the plugin loads.
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlsplit


class ReportsTree:
    """Read access to one reports tree; every path given is relative to its root and stays inside it."""

    def __init__(self, location: str | Path):
        text = str(location)
        scheme = urlsplit(text).scheme
        self.is_local = isinstance(location, Path) or scheme in ("", "file")
        if self.is_local:
            folder = Path(unquote(urlsplit(text).path)) if scheme == "file" else Path(text)
            self.location, self.root = folder.resolve().as_uri(), folder.resolve().as_posix()
        else:  # s3://conn@bucket/prefix: the connection id is not part of the objects' paths
            url = urlsplit(text)
            self.location, self.root = text, url.netloc.rpartition("@")[2] + unquote(url.path).rstrip("/")

    @cached_property
    def fs(self):
        """The fsspec filesystem."""
        if self.is_local:
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem()
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(self.location).fs

    def _path(self, relative: str) -> str | None:
        """The absolute path of ``relative`` (``dag/run/file``), None when it would leave the tree."""
        clean = posixpath.normpath(relative.lstrip("/"))
        if clean in (".", "..") or clean.startswith("../"):
            return None
        return f"{self.root}/{clean}"

    def _relative(self, path: str) -> str:
        return posixpath.relpath(path, self.root)

    def refresh(self) -> None:
        """Forget cached listings (object stores' clients cache them), so new runs show up."""
        self.fs.invalidate_cache()

    def summaries(self) -> dict[str, float]:
        """``<dag_id>/<run>`` of every folder with a ``summary.json`` → that file's modification time."""
        self.refresh()
        found = self.fs.glob(f"{self.root}/*/*/summary.json", detail=True)
        return {posixpath.dirname(self._relative(path)): _mtime(info) for path, info in found.items()}

    def mtime(self, relative: str) -> float | None:
        path = self._path(relative)
        try:
            return _mtime(self.fs.info(path)) if path else None
        except (FileNotFoundError, OSError):
            return None

    def read_bytes(self, relative: str) -> bytes | None:
        """A file's content, None when it is missing, a folder, or outside the tree."""
        path = self._path(relative)
        try:
            return self.fs.cat_file(path) if path and self.fs.isfile(path) else None
        except (FileNotFoundError, IsADirectoryError, OSError):
            return None

    def local_file(self, relative: str) -> Path | None:
        """The file on disk (a local tree only; links are not followed out of it), else None."""
        path = self._path(relative)
        if not self.is_local or path is None:
            return None
        target = Path(path).resolve()
        return target if target.is_relative_to(self.root) and target.is_file() else None

    def folders(self, dag_id: str) -> list[str]:
        """The run folder names under ``dag_id``."""
        path = self._path(dag_id)
        if path is None or "/" in posixpath.normpath(dag_id):
            return []
        self.refresh()
        try:
            entries = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError, OSError):
            return []
        return sorted(posixpath.basename(e["name"].rstrip("/")) for e in entries if e["type"] == "directory")

    def folder_of(self, report_url: str | None) -> str | None:
        """``<dag_id>/<run folder>`` when ``report_url`` is a report.html of this tree, else None."""
        if not report_url:
            return None
        url = urlsplit(report_url)
        if url.scheme != urlsplit(self.location).scheme:
            return None
        if self.is_local:
            path = Path(unquote(url.path)).resolve().as_posix()
        else:
            path = url.netloc.rpartition("@")[2] + unquote(url.path)
        parent = posixpath.dirname(path)
        if not parent.startswith(self.root + "/"):
            return None
        rel = parent[len(self.root) + 1 :]
        return rel if len(rel.split("/")) == 2 and ".." not in rel.split("/") else None


def _mtime(info: dict) -> float:
    """Modification time in epoch seconds from an fsspec ``info`` (``mtime`` on disk, ``LastModified`` on S3)."""
    value = info.get("mtime", info.get("LastModified", info.get("updated", 0)))
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.timestamp() if isinstance(value, datetime) else float(value or 0)
