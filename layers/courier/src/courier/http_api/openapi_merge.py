"""One OpenAPI document from the public and the admin resolver (one HTTP API, two functions).

Powertools writes a document per resolver; the API has one, so the second's paths, schemas,
security schemes and tags are added to the first's. A name both define must mean the same
thing (the shared error shape does); anything else is a bug, and raises.
"""

from __future__ import annotations

import copy
from typing import Any


class ConflictingDocuments(ValueError):
    """The two documents define one path, schema or scheme differently."""


def _merge_map(into: dict[str, Any], other: dict[str, Any], what: str) -> None:
    for name, value in other.items():
        if name in into and into[name] != value:
            raise ConflictingDocuments(f"{what} {name!r} differs between the two documents")
        into[name] = value


def merged_documents(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """`first` with `second`'s paths, components and tags added (paths must not overlap)."""
    document = copy.deepcopy(first)
    overlap = set(document.get("paths", {})) & set(second.get("paths", {}))
    if overlap:
        raise ConflictingDocuments(f"both documents define {sorted(overlap)}")
    document.setdefault("paths", {}).update(copy.deepcopy(second.get("paths", {})))
    components = document.setdefault("components", {})
    for section, values in second.get("components", {}).items():
        _merge_map(components.setdefault(section, {}), copy.deepcopy(values), section)
    tags = {tag["name"]: tag for tag in document.get("tags", [])}
    _merge_map(tags, {tag["name"]: tag for tag in second.get("tags", [])}, "tag")
    if tags:
        document["tags"] = list(tags.values())
    return document
