"""Read a plant YAML file into :class:`Plant`, with errors that name file, line and field.

The YAML is composed into nodes first so every value keeps its line number;
``${VAR}`` references are replaced from the environment at that stage (secrets
stay out of the file). Pydantic then validates the plain data, and each error's
location is mapped back to the line it came from::

    plant.yaml:42: tags[3].address: register 70000 is out of range
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from collectors.config.checks import cross_checks
from collectors.config.models import Plant
from collectors.errors import ConfigError

Loc = tuple[str | int, ...]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


# Aliases may repeat a value, but the document they expand to stays within this many values beyond its own
# (a 583-byte "billion laughs" would otherwise expand to hundreds of millions).
ALIAS_EXPANSION_LIMIT = 1_000_000
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed: several times faster


class _Lines:
    """Line numbers of a container and of each of its keys or items."""

    __slots__ = ("children", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.children: dict[Any, int] = {}


class _Document:
    """Plain data of a YAML file plus the line of every location in it.

    Built straight from the parser's events (no node graph, which for a 50 MB file took gigabytes): lines
    are kept per container, keyed by the container's id, so memory stays proportional to the file. An alias
    shares the anchored value; the values it adds are counted against :data:`ALIAS_EXPANSION_LIMIT`.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.root: Any = None
        self.problems: list[str] = []
        self._lines: dict[int, _Lines] = {}
        self._anchors: dict[str, tuple[Any, int]] = {}  # anchor → (value, values it holds)
        self._open_anchors: set[str] = set()
        self._expanded = 0

    def line_of(self, loc: Loc) -> int:
        """Line of the deepest known location on ``loc``'s path (1 if none)."""
        line, value = 1, self.root
        for part in loc:
            lines = self._lines.get(id(value))
            if lines is None:
                break
            line = lines.children.get(part, lines.line)
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            lines = self._lines.get(id(value))
            if lines is not None:
                line = lines.line
        return line

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(f"{self.source}:{self.line_of(loc)}: {format_loc(loc)}: {message}")

    def fail(self, mark: Any, message: str) -> ConfigError:
        return ConfigError([f"{self.source}:{mark.line + 1 if mark else 1}: (yaml): {message}"])

    def build(self, loader: Any) -> Any:
        """The document's data, from the parser's events."""
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStart
        self.root, _size = self._value(loader, loader.get_event(), ())
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            raise self.fail(loader.peek_event().start_mark, "expected a single document, found another one")
        return self.root

    def _value(self, loader: Any, event: Any, loc: Loc) -> tuple[Any, int]:
        """(value, number of values in it) of the node starting with ``event``. Iterative over siblings,
        recursive over depth (which the parser has bounded by then)."""
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event)
        anchor = event.anchor
        if anchor is not None:
            self._open_anchors.add(anchor)
        if isinstance(event, yaml.ScalarEvent):
            value, size = self._scalar(loader, event, loc), 1
        elif isinstance(event, yaml.SequenceStartEvent):
            value, size = self._sequence(loader, event, loc)
        elif isinstance(event, yaml.MappingStartEvent):
            value, size = self._mapping(loader, event, loc)
        else:  # pragma: no cover - the parser only yields the events above here
            raise self.fail(event.start_mark, f"unexpected {type(event).__name__}")
        if anchor is not None:
            self._open_anchors.discard(anchor)
            self._anchors[anchor] = (value, size)
        return value, size

    def _alias(self, event: Any) -> tuple[Any, int]:
        if event.anchor in self._open_anchors:
            raise self.fail(event.start_mark, f"alias *{event.anchor} refers to itself (a recursive structure)")
        if event.anchor not in self._anchors:
            raise self.fail(event.start_mark, f"alias *{event.anchor} has no anchor &{event.anchor} before it")
        value, size = self._anchors[event.anchor]
        self._expanded += size
        if self._expanded > ALIAS_EXPANSION_LIMIT:
            raise self.fail(event.start_mark, f"aliases expand to more than {ALIAS_EXPANSION_LIMIT:,} values "
                                              "(an alias bomb?); write the values out instead")  # fmt: skip
        return value, size

    def _scalar(self, loader: Any, event: Any, loc: Loc) -> Any:
        tag = event.tag if event.tag not in (None, "!") else None
        node_tag = tag or loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if node_tag == "tag:yaml.org,2002:str":
            return self._expand_env(event.value, loc, event.start_mark.line + 1)
        node = yaml.ScalarNode(node_tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return loader.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            raise self.fail(event.start_mark, str(exc.problem or exc)) from None

    def _sequence(self, loader: Any, event: Any, loc: Loc) -> tuple[list[Any], int]:
        items: list[Any] = []
        lines = self._lines[id(items)] = _Lines(event.start_mark.line + 1)
        size = 1
        while not loader.check_event(yaml.SequenceEndEvent):
            child = loader.get_event()
            lines.children[len(items)] = child.start_mark.line + 1
            value, child_size = self._value(loader, child, (*loc, len(items)))
            items.append(value)
            size += child_size
        loader.get_event()
        return items, size

    def _mapping(self, loader: Any, event: Any, loc: Loc) -> tuple[dict[Any, Any], int]:
        result: dict[Any, Any] = {}
        lines = self._lines[id(result)] = _Lines(event.start_mark.line + 1)
        size = 1
        while not loader.check_event(yaml.MappingEndEvent):
            key_event = loader.get_event()
            key, _key_size = self._value(loader, key_event, loc)
            try:
                hash(key)
            except TypeError:
                raise self.fail(key_event.start_mark, "a mapping key must be a plain value") from None
            line = key_event.start_mark.line + 1
            if key in result:
                lines.children[key] = line
                self.problem((*loc, key), "key appears twice")
            value, child_size = self._value(loader, loader.get_event(), (*loc, key))
            lines.children[key] = line
            result[key] = value
            size += child_size
        loader.get_event()
        return result, size

    def _expand_env(self, text: str, loc: Loc, line: int) -> str:
        if "${" not in text:
            return text

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            self.problems.append(f"{self.source}:{line}: {format_loc(loc)}: environment variable {name} is not set")
            return ""

        return _ENV_REF.sub(replace, text)


def format_loc(loc: Loc) -> str:
    """``('tags', 3, 'address')`` -> ``tags[3].address``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top)"


def _parse(text: str, source: str) -> tuple[Any, _Document]:
    doc = _Document(source)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigError([f"{source}:{line}: (file): a NUL character; a config file is text"])
    loader = _Loader(text)
    try:
        data = doc.build(loader)
        if data is None:
            raise ConfigError([f"{source}:1: (top): the file is empty"])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([f"{source}:{line}: (yaml): {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:  # e.g. a character YAML does not allow
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        raise ConfigError([f"{source}:{line}: (yaml): {getattr(exc, 'reason', None) or exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{source}:1: (yaml): nested too deeply"]) from None
    finally:
        loader.dispose()
    return data, doc


def _pydantic_loc(error: Mapping[str, Any]) -> Loc:
    # Discriminated unions insert the tag value ("modbus") into the location: drop it.
    loc = tuple(error["loc"])
    return tuple(p for p in loc if not (isinstance(p, str) and p in ("modbus", "opcua", "function-after")))


def parse_plant(text: str, source: str = "plant.yaml") -> Plant:
    """Validate a plant config given as text. Raises :class:`ConfigError` listing every problem."""
    data, doc = _parse(text, source)
    if not isinstance(data, dict):
        raise ConfigError([f"{source}:1: (top): expected a mapping with site, connections, tags, ..."])
    if doc.problems:
        raise ConfigError(doc.problems)
    try:
        plant = Plant.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            doc.problem(_pydantic_loc(error), message)
        raise ConfigError(doc.problems) from None
    for loc, message in cross_checks(plant):
        doc.problem(loc, message)
    if doc.problems:
        raise ConfigError(doc.problems)
    return plant


def load_plant(path: str | Path) -> Plant:
    """Read and validate a plant config file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}:0: (file): cannot read: {exc.strerror}"]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"{path}:{line}: (file): not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as "
                           "UTF-8"]) from None  # fmt: skip
    return parse_plant(text, source=str(path))
