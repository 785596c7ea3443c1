"""docs/config.md documents every field of the config models (so docs cannot drift)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from collectors.config import models


def all_models() -> list[type[BaseModel]]:
    return [
        obj for obj in vars(models).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == models.__name__
        and obj is not models.Strict
    ]


def test_every_config_field_is_documented(repo: Path) -> None:
    doc = (repo / "docs" / "config.md").read_text()
    missing = [
        f"{model.__name__}.{name}"
        for model in all_models()
        for name in model.model_fields
        if f"`{name}`" not in doc and f"{name}:" not in doc
    ]
    assert missing == []
