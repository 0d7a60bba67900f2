"""Load YAML with the line of every key and value, so errors can name a line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """A YAML document's data plus where each part of it was written.

    `lines[path]` is the 1-based line of the key (for a mapping entry) or of the item (for a
    sequence element) at `path`, e.g. `("schedule", "slots", 1)`; `lines[()]` is the document's
    first line. `duplicates` lists the paths of keys written twice in one mapping (PyYAML keeps
    the last silently; a campaign must not).
    """

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[Path_] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its longest prefix that was written in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; `line` is 1-based (None if PyYAML gave no mark)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load_located(text: str) -> Located:
    """Parse one YAML document safely (no arbitrary objects) and record its positions.

    :raises YamlSyntaxError: on a syntax error, or a stream with several documents.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
            # Construct from the composed node so merge keys and anchors behave as safe_load.
            data = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            # Only PyYAML's own wording and line numbers: str(exc) would quote the source line,
            # which may hold a secret.
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or "invalid YAML"
            if exc.context and exc.context_mark and exc.context_mark is not mark:
                problem += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
            elif exc.context:
                problem = f"{exc.context}: {problem}"
            raise YamlSyntaxError(problem, mark.line + 1 if mark else None) from None
        except yaml.YAMLError as exc:
            raise YamlSyntaxError(str(exc), None) from None
    finally:
        loader.dispose()
    located = Located(data)
    if node is not None:
        located.lines[()] = node.start_mark.line + 1
        _walk(node, (), located)
    return located


def _walk(node: yaml.Node, path: Path_, out: Located) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value
            sub = path + (key,)
            if key in seen:
                out.duplicates.append(sub)
            seen.add(key)
            out.lines[sub] = key_node.start_mark.line + 1
            _walk(value_node, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = path + (index,)
            out.lines[sub] = item.start_mark.line + 1
            _walk(item, sub, out)
