"""A device that missed five one-node edits reconnects: resume vs a full resync.

``resume <size>``: the server's ``connect`` handling for a device that sends
``resume = {sequenceNumber, checksum}`` (``connected`` without the schema, then the five
missed patches), beside the same ``connect`` without ``resume`` (``connected`` with the
whole schema). ``extra_info["bytes"]`` is what the device is sent; the ratio of the two
is the README's "resume" row. Sans-I/O: the numbers are the server's own work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from lumora_fast import create_connect_message, serialize_message
from lumora_fast.sessions import Send, ServerProtocol

from .conftest import Workloads, measure

if TYPE_CHECKING:
    from pytest_benchmark.fixture import BenchmarkFixture

T0 = 1_700_000_000_000.0
MISSED = 5


def session_with_history(workloads: Workloads, size: str) -> tuple[ServerProtocol, str, int, str]:
    """A session that went through six one-node edits; where a device left after the
    first: (server, session id, its sequence number, its checksum)."""
    from tests.make_schema import mutate

    server = ServerProtocol(update_interval_ms=0)
    schema = workloads.fresh(size)
    session = server.create_session(T0, schema)
    now = T0
    resume: tuple[int, str] | None = None
    for seed in range(1, MISSED + 2):
        now += 1000
        schema = mutate(schema, 1, seed)
        server.publish(session.id, schema, now)
        if resume is None:
            assert session.checksum is not None
            resume = (session.sequence, session.checksum)
    assert resume is not None
    assert session.sequence == resume[0] + MISSED
    return server, session.id, *resume


def join(server: ServerProtocol, session_id: str, hello: bytes) -> list[Any]:
    connection_id, _ = server.open(session_id, T0)
    outputs = server.receive(connection_id, hello, T0)
    server.connection_lost(connection_id, T0)
    return outputs


@pytest.mark.parametrize("size", ["medium", "large-tree"])
@pytest.mark.parametrize("resume", [True, False], ids=["resume", "resync"])
def test_reconnect(
    benchmark: BenchmarkFixture, workloads: Workloads, size: str, resume: bool
) -> None:
    server, session_id, sequence, checksum = session_with_history(workloads, size)
    hello = serialize_message(
        create_connect_message(
            session_id,
            "phone",
            "ios",
            timestamp=1,
            update_types=["full", "incremental", "patch"],
            resume=(sequence, checksum) if resume else None,
        )
    )
    outputs = join(server, session_id, hello)
    sent = [o.data for o in outputs if isinstance(o, Send)]
    assert len(sent) == (1 + MISSED if resume else 1)
    assert (b'"resumed":true' in sent[0]) is resume
    benchmark.group = f"reconnect {size}"
    benchmark.extra_info["bytes"] = sum(map(len, sent))
    measure(benchmark, lambda: join(server, session_id, hello))
