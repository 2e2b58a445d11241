"""Where configuration files may come from, and how they are read so that no error repeats their content.

Scenario and query files (the ``scenario`` and ``db_queries`` Params, ``--scenario``, ``--queries``) and the
feeder files a scenario names resolve inside ``include/config/`` or a folder listed in the Airflow Variable
``perfpipe_config_dirs`` or ``$PERFPIPE_CONFIG_DIRS`` (comma-separated absolute paths). Any other path, an
absolute one elsewhere, ``..`` or a symlink leading out, is refused naming the path only (``config_file``).

``read_yaml`` reads a file as UTF-8 YAML with its marks: every error names the file, the field, the kind of
value found (``a string``, never the value) and the line and column, so a file that was not meant to be read
never comes back in a message, an XCom, summary.json or a report.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from include.perfpipe.errors import ConfigError, kind
from include.perfpipe.vocabulary import CONFIG_DIRS_ENV, CONFIG_DIRS_VARIABLE

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
MAX_DEPTH = 64  # nesting of a config file; PyYAML recurses per level and hits Python's limit near 300
# libyaml when built in: the demo scenario read in 1.8 ms against 18.9 ms, and 3,000-deep nesting refused at its
# 1,000-level limit in 14 ms, where pure PyYAML took 4.8 s to reach a RecursionError
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_QUOTED = re.compile(r"'[^'\s]{13,}'")  # a YAML problem may quote an alias or a tag of the file


def config_dirs(configured: str | list[str] | None = None) -> list[Path]:
    """``include/config/`` and the folders ``configured`` names (else ``$PERFPIPE_CONFIG_DIRS``), resolved."""
    if configured is None:
        configured = os.environ.get(CONFIG_DIRS_ENV, "")
    if isinstance(configured, str):
        configured = configured.split(",")
    extra = [Path(item.strip()).expanduser() for item in configured if item and item.strip()]
    for folder in extra:
        if not folder.is_absolute():
            raise ConfigError(
                f"{CONFIG_DIRS_VARIABLE} / ${CONFIG_DIRS_ENV}: expected absolute folders, got {str(folder)!r}"
            )
    return [CONFIG_DIR, *(folder.resolve() for folder in extra)]


def config_file(value: str | Path, field: str, dirs: list[Path] | None = None, *, cwd: bool = False) -> Path:
    """The file ``value`` names, inside one of ``dirs`` (default ``config_dirs()``) once symlinks are followed.

    A relative path is looked up in the current directory first when ``cwd`` (the CLI), then in each folder
    in order; the first that exists wins. Anything outside the folders raises ``ConfigError`` naming the
    path only: its content is never read."""
    dirs = config_dirs() if dirs is None else dirs
    path = Path(value).expanduser()
    bases = [Path.cwd()] if cwd else []
    candidates = [path] if path.is_absolute() else [base / path for base in [*bases, *dirs]]
    resolved = [candidate.resolve() for candidate in candidates]
    inside = [r for r in resolved if any(r.is_relative_to(folder) for folder in dirs)]
    for candidate in inside:
        if candidate.exists():
            return candidate
    if inside and not any(r.exists() for r in resolved):
        return inside[0]  # missing: its reader says so, naming it
    raise ConfigError(
        f"{str(value)!r} is outside the folders config files are read from ({', '.join(map(str, dirs))}); "
        f"put the file under include/config/ or list its folder in the Airflow Variable {CONFIG_DIRS_VARIABLE} "
        f"or ${CONFIG_DIRS_ENV}",
        field=field,
    )


def read_text(path: str | Path, field: str | None = None) -> str:
    """The file as UTF-8 text; ``ConfigError`` naming the file (and the byte offset) otherwise."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", file=path, field=field) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 text (byte {exc.start}, line {line})", file=path, field=field) from None


@dataclass(frozen=True)
class Document:
    """A YAML file's data and its node tree, to say where a field sits."""

    path: Path
    data: object
    root: yaml.Node | None

    def position(self, field: str | tuple | None) -> str | None:
        """``line L, column C`` of ``field`` (``a.b[0].c`` or a pydantic ``loc``); the deepest part found."""
        node = found = self.root
        if node is None:
            return None
        parts = list(field) if isinstance(field, tuple) else _parts(field or "")
        while parts:
            node = _child(node, parts, parts.pop(0))
            if node is None:
                break
            found = node
        return f"line {found.start_mark.line + 1}, column {found.start_mark.column + 1}"

    def error(self, field: str | None, message: str, value: object = None, *, shown: bool = True) -> ConfigError:
        """``ConfigError``: ``file: field: message (got <kind>; line L, column C)``."""
        notes = [f"got {kind(value)}"] if shown else []
        if where := self.position(field):
            notes.append(where)
        suffix = f" ({'; '.join(notes)})" if notes else ""
        return ConfigError(f"{message}{suffix}", file=self.path, field=field)


def _parts(field: str) -> list:
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", field)]


def _child(node: yaml.Node, rest: list, part) -> yaml.Node | None:
    """The child of ``node`` named ``part``; a key holding dots (``api.p95_ms``) takes the next parts too."""
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            text = str(key.value)
            if text == str(part):
                return value
            joined = ".".join(str(p) for p in [part, *rest])
            if text.startswith(f"{part}.") and joined.startswith(text):
                del rest[: text.count(".")]
                return value
    return node if not isinstance(part, int) else None


def read_yaml(path: str | Path, field: str | None = None) -> Document:
    """The file read as UTF-8 YAML with its marks. Bad YAML, nesting deeper than ``MAX_DEPTH`` or a byte that
    is not UTF-8 raise ``ConfigError`` naming the file, the line and the column, never the file's text."""
    path = Path(path)
    text = read_text(path, field)
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_depth(path, root)
        return Document(path, loader.construct_document(root) if root is not None else None, root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = _QUOTED.sub("'…'", " ".join(filter(None, [exc.context, exc.problem])))
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {problem}", file=path, field=field) from None
    except yaml.YAMLError:
        raise ConfigError("not valid YAML", file=path, field=field) from None
    except RecursionError:
        raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", file=path, field=field) from None
    finally:
        loader.dispose()


def _check_depth(path: Path, root: yaml.Node) -> None:
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            mark = node.start_mark
            raise ConfigError(
                f"nested deeper than {MAX_DEPTH} levels at line {mark.line + 1}, column {mark.column + 1}", file=path
            )
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)
