"""Finds which model a loc points into, so an unknown key can be matched to the known ones."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from core.config.paths import Loc


def known_keys(root: type[Any], loc: Loc) -> tuple[str, ...]:
    """The field names of the model at `loc` (a raw pydantic loc), or () if it is not a model."""
    current: object = root
    for part in loc:
        current = _step(_unwrap(current), part)
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return tuple(current.model_fields)
    return ()


def _unwrap(annotation: object) -> object:
    """Strip Annotated and `| None`, which do not consume a loc part."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _step(annotation: object, part: str | int) -> object:
    """The annotation one loc part further in, or None when the loc leaves the schema."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    if origin is tuple and args:
        return args[0]
    if origin in (Union, types.UnionType):
        return next((arg for arg in args if _tag_of(arg) == part), None)
    return None


def _tag_of(model: object) -> object:
    """The `platform` literal a bot model is chosen by."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    field = model.model_fields.get("platform")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    return get_args(field.annotation)[0]
