"""Bundled example data: a todo-app schema and a deterministic stream of edits to it.

``todo_app.json`` is a Lumora IR schema of a small todo app (12 top-level sections, 429
nodes, about 87 KB of compact JSON). :func:`edits` produces the kind of changes a
developer makes while working on it, each one a new schema that shares every untouched
section with the previous one (schemas are never mutated in place).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from importlib.resources import files
from typing import Any

from lumora_fast.messages import Schema

__all__ = ["EDIT_KINDS", "edits", "todo_app_schema"]

Node = dict[str, Any]


def todo_app_schema() -> Schema:
    """A fresh copy of the bundled todo-app schema."""
    data = files(__package__).joinpath("todo_app.json").read_text(encoding="utf-8")
    schema: Schema = json.loads(data)
    return schema


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.get("children", [])))


class _Editor:
    """Copy-on-write edits: only the touched top-level section is copied."""

    def __init__(self, schema: Schema, seed: int) -> None:
        self.schema = schema
        self.rng = random.Random(seed)
        self.serial = 0

    def _section(self, pick: Callable[[Node], bool]) -> tuple[Schema, int, Node]:
        roots = self.schema["nodes"]
        index = self.rng.choice([i for i, root in enumerate(roots) if pick(root)])
        new = dict(self.schema)
        new["nodes"] = list(roots)
        new["nodes"][index] = copy.deepcopy(roots[index])
        return new, index, new["nodes"][index]

    def _nodes(self, root: Node, kind: str, prefix: str = "") -> list[Node]:
        return [n for n in _walk(root) if n["type"] == kind and str(n["id"]).startswith(prefix)]

    def _has(self, kind: str, prefix: str = "") -> Callable[[Node], bool]:
        return lambda root: bool(self._nodes(root, kind, prefix))

    def rename(self) -> tuple[str, Schema]:
        new, _, root = self._section(self._has("Text", "title_"))
        node = self.rng.choice(self._nodes(root, "Text", "title_"))
        self.serial += 1
        node["props"]["text"] = f"{node['props']['text'].split(' (')[0]} ({self.serial})"
        return f"rename task {node['id']}", new

    def toggle(self) -> tuple[str, Schema]:
        new, _, root = self._section(self._has("Checkbox"))
        node = self.rng.choice(self._nodes(root, "Checkbox"))
        node["props"]["value"] = not node["props"]["value"]
        return f"toggle {node['id']}", new

    def greeting(self) -> tuple[str, Schema]:
        new, _, root = self._section(lambda r: r["id"].startswith("greeting_"))
        self.serial += 1
        node = self._nodes(root, "Text")[0]
        node["props"]["text"] = f"Hello again, {{{{user.name}}}}! ({self.serial})"
        return "edit the greeting", new

    def recolor(self) -> tuple[str, Schema]:
        new, _, root = self._section(lambda r: r["id"].startswith("header_"))
        color = f"#{self.rng.randrange(0x1000000):06X}"
        root["props"]["style"]["backgroundColor"] = color
        return f"header color {color}", new

    def add(self) -> tuple[str, Schema]:
        new, _, root = self._section(self._has("Row", "todo_"))
        items = [child for child in root["children"] if str(child["id"]).startswith("todo_")]
        template = copy.deepcopy(self.rng.choice(items))
        self.serial += 1
        for node in _walk(template):
            node["id"] = f"{node['id']}_new{self.serial}"
        for node in _walk(template):
            if str(node["id"]).startswith("title_"):
                node["props"]["text"] = f"New task {self.serial}"
        root["children"].append(template)
        return f"add a task to {root['id']}", new

    def remove(self) -> tuple[str, Schema]:
        new, _, root = self._section(
            lambda r: sum(str(c["id"]).startswith("todo_") for c in r["children"]) > 2
        )
        items = [c for c in root["children"] if str(c["id"]).startswith("todo_")]
        root["children"].remove(self.rng.choice(items))
        return f"remove a task from {root['id']}", new

    def theme(self) -> tuple[str, Schema]:
        new = dict(self.schema)
        new["theme"] = copy.deepcopy(self.schema["theme"])
        color = f"#{self.rng.randrange(0x1000000):06X}"
        new["theme"]["colors"]["primary"] = color
        return f"theme primary color {color}", new

    def reorder(self) -> tuple[str, Schema]:
        # Moving sections around is something a delta cannot express: a full update.
        new = dict(self.schema)
        roots = list(self.schema["nodes"])
        i, j = self.rng.sample(range(len(roots)), 2)
        roots[i], roots[j] = roots[j], roots[i]
        new["nodes"] = roots
        return "reorder two sections", new

    def restyle(self) -> tuple[str, Schema]:
        # A sweeping change (every section's padding): too many nodes for a delta.
        new = dict(self.schema)
        new["nodes"] = [copy.deepcopy(root) for root in self.schema["nodes"]]
        self.serial += 1
        for root in new["nodes"]:
            style = root["props"].setdefault("style", {})
            style["paddingTop"] = 4 + self.serial % 12
        return "restyle every section", new


EDIT_KINDS = (
    "rename",
    "toggle",
    "greeting",
    "add",
    "theme",
    "rename",
    "remove",
    "recolor",
    "toggle",
    "reorder",
    "rename",
    "restyle",
)
"""The rotation :func:`edits` follows (targets are picked at random, deterministically)."""


def edits(schema: Schema, count: int, *, seed: int = 1) -> Iterator[tuple[str, Schema]]:
    """``count`` successive edits of ``schema``: ``(description, new schema)`` pairs.

    Each schema is the previous one with one change; ``schema`` itself is never mutated.
    The same arguments always give the same edits.
    """
    editor = _Editor(schema, seed)
    for index in range(count):
        method: Callable[[], tuple[str, Schema]] = getattr(
            editor, EDIT_KINDS[index % len(EDIT_KINDS)]
        )
        description, editor.schema = method()
        yield description, editor.schema
