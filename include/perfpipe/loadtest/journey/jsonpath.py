"""A documented subset of JSONPath: ``$``, ``.name``, ``['name']``, ``[n]`` (negative from the
end) and ``[*]`` (every element of a list, or value of an object).

``compile_path("$.items[0].id")`` returns a ``JsonPath``; ``find(document)`` gives every match in
document order (an empty list when nothing matches).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]|\[\*\]|\.\*|\[(?:'([^']*)'|"([^"]*)")\]""")
_WILD = object()


class JsonPath:
    __slots__ = ("source", "steps", "many")

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source.startswith("$"):
            raise ValueError(f"expected a JSON path starting with '$' (e.g. '$.items[0].id'), got {source!r}")
        self.source, self.steps, at = source, [], 1
        while at < len(source):
            match = _TOKEN.match(source, at)
            if not match:
                raise ValueError(
                    f"JSON path {source!r}: cannot read from {source[at:]!r}; supported: .name, ['name'], [n], [*]"
                )
            name, index, quoted1, quoted2 = match.groups()
            if index is not None:
                self.steps.append(int(index))
            elif name is not None or quoted1 is not None or quoted2 is not None:
                self.steps.append(next(v for v in (name, quoted1, quoted2) if v is not None))
            else:
                self.steps.append(_WILD)
            at = match.end()
        self.many = _WILD in self.steps

    def find(self, document) -> list:
        if not self.many:  # one match at most: walk down without lists of candidates
            node = document
            for step in self.steps:
                if isinstance(step, int):
                    if not isinstance(node, list) or not -len(node) <= step < len(node):
                        return []
                elif not isinstance(node, dict) or step not in node:
                    return []
                node = node[step]
            return [node]
        nodes = [document]
        for step in self.steps:
            if step is _WILD:
                found = []
                for node in nodes:
                    if isinstance(node, list):
                        found += node
                    elif isinstance(node, dict):
                        found += node.values()
            elif isinstance(step, int):
                found = [n[step] for n in nodes if isinstance(n, list) and -len(n) <= step < len(n)]
            else:
                found = [n[step] for n in nodes if isinstance(n, dict) and step in n]
            nodes = found
        return nodes
