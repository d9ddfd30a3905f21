"""Importing lumora_fast is light: no event loop, no network or file-watching stack, no
``importlib.metadata``, not even msgspec until a protocol name is first used.

Each check runs in a fresh interpreter (``sys.executable``), so what other tests have
imported does not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import lumora_fast

SERVING = ("asyncio", "websockets", "watchdog")
"""Imported only by the modules that serve (``lumora_fast.asyncio``, the CLI)."""
HEAVY = (*SERVING, "importlib.metadata")

PROTOCOL_USE = """
import lumora_fast as lf
schema = {"metadata": {}, "nodes": [{"id": "a", "type": "View"}]}
message = lf.create_update_message("sess-1234abcd", lf.create_full_update(schema, 1), timestamp=1)
wire = lf.serialize_message(message)
assert lf.deserialize_message(wire, validate=True) == message
assert lf.validate_checksum(schema, lf.calculate_checksum(schema)).valid
delta = lf.calculate_schema_delta(schema, {"metadata": {}, "nodes": []})
assert lf.should_use_incremental_update(delta) in (True, False)
assert lf.SchemaTracker(schema).update(schema).checksum
assert lf.validate_session_id("sess-1234abcd").valid
import lumora_fast.sessions
"""


def loaded_after(code: str, *, pure: bool = False) -> set[str]:
    """The modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    env = dict(os.environ)
    env.pop("LUMORA_FAST_PURE", None)
    if pure:
        env["LUMORA_FAST_PURE"] = "1"
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    names: list[str] = json.loads(result.stdout.splitlines()[-1])
    return set(names)


def top_levels(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    """The names among ``modules`` that are one of ``prefixes`` or inside one."""
    return sorted(m for m in modules if any(m == p or m.startswith(f"{p}.") for p in prefixes))


@pytest.mark.parametrize("pure", [False, True], ids=["native", "pure"])
def test_import_loads_nothing_heavy(pure: bool) -> None:
    modules = loaded_after("import lumora_fast", pure=pure)
    assert "lumora_fast" in modules
    assert top_levels(modules, HEAVY) == []


def test_import_defers_msgspec_and_the_protocol_modules() -> None:
    modules = loaded_after("import lumora_fast; lumora_fast.BACKEND; lumora_fast.__version__")
    assert top_levels(modules, ("msgspec", "lumora_fast.builders", "lumora_fast.codec")) == []


@pytest.mark.parametrize("pure", [False, True], ids=["native", "pure"])
def test_protocol_functions_load_nothing_that_serves(pure: bool) -> None:
    modules = loaded_after(PROTOCOL_USE, pure=pure)
    assert "msgspec" in modules
    assert top_levels(modules, HEAVY) == []


def test_serving_modules_are_where_asyncio_comes_from() -> None:
    # The check above is not vacuous: the server does bring these in.
    modules = loaded_after("import lumora_fast.asyncio")
    assert top_levels(modules, SERVING) != []


def test_version_is_the_cargo_version_and_the_installed_one() -> None:
    from lumora_fast import _core

    cargo = Path(__file__).parents[1] / "Cargo.toml"
    with cargo.open("rb") as file:
        expected = tomllib.load(file)["package"]["version"]
    assert lumora_fast.__version__ == _core.__version__ == expected
    assert lumora_fast.__version__ == version("lumora-fast")


def test_lazy_names() -> None:
    assert set(lumora_fast.__all__) <= set(dir(lumora_fast))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        lumora_fast.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError):
        from lumora_fast import no_such_name  # type: ignore[attr-defined]  # noqa: F401
