"""Reads bots.yaml text into plain data while remembering the line of every key."""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from core.config.paths import LineMap, Loc, format_path
from core.config.yaml_limits import (
    MAX_DEPTH,
    MAX_VALUES,
    BoundedLoader,
    LimitExceeded,
    control_character,
    nested_too_deep,
    too_many_values,
)
from core.errors import ConfigIssue


@dataclass(frozen=True)
class ParsedYaml:
    """The document as dicts, lists and scalars; `issues` are problems found while reading it."""

    data: object
    lines: LineMap
    issues: tuple[ConfigIssue, ...]


def parse_yaml(text: str, file: str) -> ParsedYaml:
    """Parse one YAML document; a syntax error or an empty file leaves `data` as None."""
    try:
        # The reader checks every character as it is made, so this can raise already.
        loader = BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        limit = control_character(exc, text)
        return _failure(file, limit.line, limit.message)
    try:
        root = loader.get_single_node()
        if root is None:
            return _failure(file, None, "the file is empty; it needs personas and bots")
        builder = _Builder(loader, file)
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return _failure(file, mark.line + 1 if mark else None, _syntax_message(exc))
    except LimitExceeded as exc:
        return _failure(file, exc.line, exc.message)
    except yaml.reader.ReaderError as exc:
        limit = control_character(exc, text)
        return _failure(file, limit.line, limit.message)
    except yaml.YAMLError as exc:
        return _failure(file, None, f"unreadable YAML: {exc}")
    except RecursionError:
        # The limits above should make this unreachable; say the likelier cause if not.
        return _failure(file, None, nested_too_deep())
    finally:
        loader.dispose()
    return ParsedYaml(data, LineMap(builder.lines), tuple(builder.issues))


def _failure(file: str, line: int | None, message: str) -> ParsedYaml:
    return ParsedYaml(None, LineMap(), (ConfigIssue(file, line, "", message),))


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or exc.context or "unreadable YAML"
    if "'\\t'" in problem:
        return "YAML syntax error: a tab character; indent with spaces, not tabs"
    if exc.context and exc.context.startswith("expected a single document"):
        return "YAML syntax error: only one document is allowed, but found a second '---'"
    if "<block end>" in problem:
        return f"YAML syntax error: {problem} (does the indentation line up?)"
    start, end = exc.context_mark, exc.problem_mark
    if exc.context and start and end and start.line != end.line:
        # The problem is often found lines after its cause, e.g. at the end of an unclosed quote.
        return f"YAML syntax error: {problem} ({exc.context} from line {start.line + 1})"
    return f"YAML syntax error: {problem}"


class _Builder:
    """Turns composed nodes into data, recording lines and catching duplicate keys.

    An alias is the same node met again, so the builder is where aliases expand: it counts
    what it builds, and refuses a node that contains itself.
    """

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self._loader = loader
        self._file = file
        self._built = 0
        self._open: set[int] = set()  # ids of the collections being built, root to here
        self.lines: dict[Loc, int] = {}
        self.issues: list[ConfigIssue] = []

    def build(self, node: Node, loc: Loc) -> object:
        line = node.start_mark.line + 1
        self._built += 1
        if self._built > MAX_VALUES:
            raise LimitExceeded(line, too_many_values())
        if len(loc) > MAX_DEPTH:
            raise LimitExceeded(line, nested_too_deep())
        if not isinstance(node, MappingNode | SequenceNode):
            return self._scalar(node, loc)
        if id(node) in self._open:
            # The node's own mark is its anchor; the line of the alias is where it was met again.
            raise LimitExceeded(
                self.lines.get(loc, line), "the document refers to itself through an alias"
            )
        self._open.add(id(node))
        try:
            return (
                self._mapping(node, loc) if isinstance(node, MappingNode) else self._list(node, loc)
            )
        finally:
            self._open.discard(id(node))

    def _list(self, node: SequenceNode, loc: Loc) -> list[object]:
        items: list[object] = []
        for index, item in enumerate(node.value):
            self.lines[(*loc, index)] = item.start_mark.line + 1
            items.append(self.build(item, (*loc, index)))
        return items

    def _scalar(self, node: Node, loc: Loc) -> object:
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self._issue(node.start_mark.line + 1, loc, f"cannot read this value: {exc.problem}")
            return None

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, object]:
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self._issue(line, loc, "a key must be plain text, not a list or mapping")
                continue
            # Keys keep their text as written, so Discord ids given as numbers stay digits.
            key = str(key_node.value)
            if key in result:
                first = self.lines[(*loc, key)]
                self._issue(line, (*loc, key), f"duplicate key '{key}' (first at line {first})")
                continue
            self.lines[(*loc, key)] = line
            result[key] = self.build(value_node, (*loc, key))
        return result

    def _issue(self, line: int, loc: Loc, message: str) -> None:
        self.issues.append(ConfigIssue(self._file, line, format_path(loc), message))
