"""Import time, in a fresh interpreter per round (what a tool pays at startup).

Each round runs ``sys.executable -c CODE`` and times the whole process, so every row
includes the interpreter's own start (the ``python -c pass`` row) and the differences
are the import costs: a plain ``import lumora_fast`` (the native module only), and
``import lumora_fast`` plus first use of the protocol functions (msgspec, the message
Structs, the builders and the codec). ``msgspec`` alone is the reference for the latter.
For the import itself without process start, see ``python -X importtime -c "import
lumora_fast"``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

ROUNDS = 20

PROTOCOL = (
    "import lumora_fast as lf\n"
    "from lumora_fast import (calculate_checksum, calculate_schema_delta, "
    "create_ping_message, deserialize_message, serialize_message, validate_message)\n"
    "deserialize_message(serialize_message(create_ping_message('sess-1234abcd', timestamp=1)))\n"
)

CODE = {
    "python -c pass": "pass",
    "import msgspec": "import msgspec",
    "import lumora_fast": "import lumora_fast",
    "lumora_fast + protocol functions": PROTOCOL,
}

SERVING = ("asyncio", "websockets", "watchfiles", "importlib.metadata")
CHECK = f"\nimport sys\nprint(sorted(m for m in {SERVING!r} if m in sys.modules))"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LUMORA_FAST_PURE", None)  # the native backend, as installed
    return env


@pytest.mark.parametrize("case", list(CODE))
def test_import_time(benchmark: BenchmarkFixture, case: str) -> None:
    code, env = CODE[case], _env()
    # The code runs, and loads nothing that serves (tests/test_import.py has the details).
    checked = subprocess.run(
        [sys.executable, "-c", code + CHECK], env=env, capture_output=True, text=True, check=True
    )
    assert checked.stdout.strip() == "[]", checked.stdout
    command = [sys.executable, "-c", code]
    benchmark.group = "import (fresh interpreter per round)"
    benchmark.pedantic(
        lambda: subprocess.run(command, env=env, check=True),
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )
