"""A ServerProtocol and several DeviceSessions wired together by an in-memory network."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from lumora_fast import ChecksumAlgorithm, calculate_checksum
from lumora_fast.examples import edits, todo_app_schema
from lumora_fast.sessions import (
    DeviceSession,
    Output,
    Resync,
    Send,
    ServerProtocol,
    UpdateAcked,
    UpdateApplied,
    parse_schema,
)
from lumora_fast.sessions.schema import MAX_FILE_BYTES

from ._helpers import T0, make_schema


class Network:
    """Delivers every Send in order; ``drop`` may lose server -> device messages."""

    def __init__(self, server: ServerProtocol, session_id: str, count: int, **options: Any) -> None:
        self.server = server
        self.devices: dict[str, DeviceSession] = {}
        self.events: list[Output] = []
        self.queue: deque[tuple[str, str, bytes]] = deque()
        self.drop: Callable[[str, bytes], bool] = lambda to, data: False
        for i in range(count):
            connection_id, outputs = server.open(session_id, T0)
            device = DeviceSession(session_id, f"d{i}", **options)
            self.devices[connection_id] = device
            self.route(outputs)
            self.up(connection_id, device.connect(T0))
        self.run(T0)

    def up(self, connection_id: str, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Send):
                self.queue.append(("server", connection_id, output.data))
            else:
                self.events.append(output)

    def route(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Send):
                assert output.to is not None
                if not self.drop(output.to, output.data):
                    self.queue.append(("device", output.to, output.data))
            else:
                self.events.append(output)

    def run(self, now: float) -> None:
        while self.queue:
            where, connection_id, data = self.queue.popleft()
            if where == "server":
                self.route(self.server.receive(connection_id, data, now))
            else:
                self.up(connection_id, self.devices[connection_id].receive(data, now))


@pytest.mark.parametrize(
    ("update_types", "expected"),
    [
        (None, {"full", "incremental"}),  # reference devices: what the reference sends
        (("full", "incremental", "patch"), {"patch"}),
    ],
)
@pytest.mark.parametrize("algorithm", ["sha256", "xxh3"])
def test_devices_converge_through_edits_and_coalescing(
    algorithm: ChecksumAlgorithm, update_types: tuple[str, ...] | None, expected: set[str]
) -> None:
    server = ServerProtocol(algorithm=algorithm)
    schema = todo_app_schema()
    session = server.create_session(T0, schema)
    net = Network(server, session.id, 4, update_types=update_types)
    now = T0
    current: dict[str, Any] = schema
    for i, (_, current) in enumerate(edits(schema, 24, seed=3)):
        now += 150 if i % 3 else 20  # some edits land inside the window
        net.route(server.publish(session.id, current, now) + server.tick(now))
        net.run(now)
    deadline = server.next_deadline()
    assert deadline is not None
    net.route(server.tick(deadline))
    net.run(deadline)
    target = calculate_checksum(current, algorithm=algorithm)
    assert session.checksum == target
    assert all(d.checksum == target for d in net.devices.values())
    assert session.inflight == {}
    applied = [e for e in net.events if isinstance(e, UpdateApplied)]
    assert applied
    assert all(e.success and e.verified for e in applied)
    kinds = {e.kind for e in applied}
    assert kinds == expected


def test_a_lost_update_is_detected_and_resynced() -> None:
    server = ServerProtocol(update_interval_ms=0)
    schema = make_schema()
    session = server.create_session(T0, schema)
    net = Network(server, session.id, 2)
    victim = next(iter(net.devices))
    lost: list[bytes] = []

    def drop(to: str, data: bytes) -> bool:
        if to == victim and not lost and b'"type":"update"' in data:
            lost.append(data)
            return True
        return False

    net.drop = drop
    current = schema
    for i in range(3):
        current = dict(
            current,
            nodes=[
                *current["nodes"][:i],
                {**current["nodes"][i], "v": i},
                *current["nodes"][i + 1 :],
            ],
        )
        net.route(server.publish(session.id, current, T0 + i))
        net.run(T0 + i)
    assert lost
    failures = [e for e in net.events if isinstance(e, UpdateApplied) and not e.success]
    assert failures
    assert failures[0].error
    assert "Sequence gap" in failures[0].error or "Checksum mismatch" in failures[0].error
    assert [e.reason for e in net.events if isinstance(e, Resync)] == ["reload"]
    target = calculate_checksum(current)
    assert all(d.checksum == target for d in net.devices.values())
    completed = [e for e in net.events if isinstance(e, UpdateAcked)]
    assert completed[-1].sequence == 3
    assert completed[-1].acked == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"metadata": {}, "nodes": [', "not valid JSON"),
        ("", "not valid JSON"),
        ('{"metadata": {}, "nodes": [NaN]}', "not valid JSON"),
        ("[1, 2]", "top level is a JSON array"),
        ('{"nodes": []}', "'metadata' must be an object"),
        ('{"metadata": [], "nodes": []}', "'metadata' must be an object"),
        ('{"metadata": {}, "nodes": {}}', "'nodes' must be an array"),
        ('{"metadata": {}, "nodes": [1]}', "nodes[0] is a JSON number"),
    ],
)
def test_parse_schema_refuses_what_cannot_be_pushed(text: str, problem: str) -> None:
    from lumora_fast import ProtocolError

    with pytest.raises(ProtocolError, match=problem.replace("[", r"\[")) as info:
        parse_schema(text.encode())
    assert info.value.code == "SCHEMA_VALIDATION_FAILED"


def test_parse_schema_accepts_a_schema() -> None:
    assert parse_schema('{"metadata": {}, "nodes": [{"id": "a"}], "x": "\\ud800"}')["x"] == "\ud800"
    with pytest.raises(ValueError, match="UTF-8"):
        parse_schema(b'{"metadata": {}, "nodes": [], "x": "\xff"}')


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 5000 + "]" * 5000, "nesting depth exceeds 512"),
        ('{"metadata": {}, "nodes": [], "x": ' + "[" * 513 + "]" * 513 + "}", "depth"),
        (" " * (MAX_FILE_BYTES + 1), f"the file is {MAX_FILE_BYTES + 1} bytes"),
        ('\ufeff{"metadata": {}, "nodes": []}', "not valid JSON"),
        ('{"metadata": {}, "nodes": []} x', "not valid JSON"),
    ],
)
def test_parse_schema_applies_the_message_limits(text: str, problem: str) -> None:
    """Depth and size limits are the messages' own, and end in ProtocolError only."""
    from lumora_fast import ProtocolError

    with pytest.raises(ProtocolError, match=problem) as info:
        parse_schema(text.encode())
    assert info.value.code == "SCHEMA_VALIDATION_FAILED"


def test_parse_schema_gives_json_loads_values_and_checksums() -> None:
    """The core's parser changes neither the values nor the checksums of the presets."""
    import json

    from lumora_fast import calculate_checksum
    from tests import make_schema as workloads

    for name in ("small", "medium"):
        for shape in ("tree", "flat"):
            data = json.dumps(workloads.preset_schema(name, shape, 7)).encode()
            parsed, reference = parse_schema(data), json.loads(data)
            assert parsed == reference
            assert calculate_checksum(parsed) == calculate_checksum(reference)
    text = '{"metadata": {"n": 12345678901234567890, "f": 1.0, "e": 1e400}, "nodes": [], "n": 1}'
    parsed, reference = parse_schema(text), json.loads(text)
    assert parsed == reference
    assert [type(v) for v in parsed["metadata"].values()] == [int, float, float]
    assert calculate_checksum(parsed) == calculate_checksum(reference)
