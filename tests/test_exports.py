"""``lumora_fast.pure`` exposes exactly the native module's API (``_core.pyi``)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import ModuleType

import lumora_fast
from lumora_fast import pure

STUB = Path(lumora_fast.__file__).parent / "_core.pyi"


def _stub() -> tuple[set[str], dict[str, ast.FunctionDef]]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    names: set[str] = set()
    functions: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = node
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names, functions


def _shape(args: ast.arguments) -> list[tuple[str, str, str | None]]:
    """(name, kind, default source) per parameter, as inspect would report them."""
    params: list[tuple[str, str, str | None]] = []
    positional = [(a, "POSITIONAL_ONLY") for a in args.posonlyargs]
    positional += [(a, "POSITIONAL_OR_KEYWORD") for a in args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    for (arg, kind), default in zip(positional, defaults, strict=True):
        params.append((arg.arg, kind, None if default is None else ast.unparse(default)))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        default_text = None if kw_default is None else ast.unparse(kw_default)
        params.append((arg.arg, "KEYWORD_ONLY", default_text))
    return params


def _runtime_shape(module: ModuleType, name: str) -> list[tuple[str, str, str | None]]:
    signature = inspect.signature(getattr(module, name))
    return [
        (
            p.name,
            p.kind.name,
            None if p.default is inspect.Parameter.empty else repr(p.default),
        )
        for p in signature.parameters.values()
    ]


def test_pure_exports_the_stub_names() -> None:
    names, _ = _stub()
    assert sorted(pure.__all__) == sorted(names)
    assert all(hasattr(pure, name) for name in pure.__all__)
    assert pure.MAX_DEPTH == lumora_fast.MAX_DEPTH == 512
    assert pure.__version__ == lumora_fast.__version__


def test_native_and_pure_export_the_same_names() -> None:
    from lumora_fast import _core

    assert sorted(_core.__all__) == sorted(pure.__all__)


def test_pure_signatures_match_the_stub() -> None:
    _, functions = _stub()
    for name, node in functions.items():
        assert _runtime_shape(pure, name) == _shape(node.args), name


def test_public_all_is_complete() -> None:
    # Every public name except submodules (which appear once imported) and the
    # ``from __future__ import annotations`` feature object.
    public = {
        name
        for name in dir(lumora_fast)
        if not name.startswith("_") and not isinstance(getattr(lumora_fast, name), ModuleType)
    }
    assert set(lumora_fast.__all__) - {"__version__"} == public - {"annotations"}
    assert all(hasattr(lumora_fast, name) for name in lumora_fast.__all__)


def test_pure_document_methods_match_the_stub() -> None:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    stub = next(
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name == "SchemaDocument"
    )
    checked = set()
    for node in stub.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("__"):
            continue
        decorators = {ast.unparse(decorator) for decorator in node.decorator_list}
        attribute = inspect.getattr_static(pure.SchemaDocument, node.name)
        if "property" in decorators:
            assert isinstance(attribute, property), node.name
        else:
            assert isinstance(attribute, staticmethod) == ("staticmethod" in decorators)
            runtime = [
                (p.name, p.kind.name, None if p.default is p.empty else repr(p.default))
                for p in inspect.signature(
                    getattr(pure.SchemaDocument, node.name)
                ).parameters.values()
            ]
            expected = _shape(node.args)
            if "staticmethod" not in decorators:  # self: positional-only or not, alike
                runtime, expected = runtime[1:], expected[1:]
            assert runtime == expected, node.name
        checked.add(node.name)
    assert checked >= {"parse", "from_python", "to_python", "dumps", "checksum", "canonical_json"}
