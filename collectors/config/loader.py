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


class _Document:
    """Plain data of a YAML file plus the line of every location in it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[Loc, int] = {}
        self.problems: list[str] = []

    def line_of(self, loc: Loc) -> int:
        """Line of the deepest known location on ``loc``'s path (1 if none)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(f"{self.source}:{self.line_of(loc)}: {format_loc(loc)}: {message}")

    def to_data(self, node: yaml.Node, loc: Loc, loader: yaml.SafeLoader) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node)
                if key in result:
                    self.lines[(*loc, key)] = key_node.start_mark.line + 1
                    self.problem((*loc, key), "key appears twice")
                self.lines[(*loc, key)] = key_node.start_mark.line + 1
                result[key] = self.to_data(value_node, (*loc, key), loader)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.to_data(item, (*loc, i), loader) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
            return self._expand_env(node.value, loc)
        return loader.construct_object(node)

    def _expand_env(self, text: str, loc: Loc) -> str:
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            self.problem(loc, f"environment variable {name} is not set")
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
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError([f"{source}:1: (top): the file is empty"])
        data = doc.to_data(node, (), loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([f"{source}:{line}: (yaml): {exc.problem or exc}"]) from exc
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
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}:0: (file): cannot read: {exc.strerror}"]) from exc
    return parse_plant(text, source=str(path))
