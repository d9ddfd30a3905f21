"""ServerProtocol under random interleavings: a Hypothesis state machine with real devices.

The machine drives one sans-I/O server and any number of :class:`DeviceSession` peers
over an in-memory network: per connection a FIFO inbox (server -> device: ``Send`` and
``Close``) and outbox (device -> server frames), delivered a few at a time, so acks come
late, reloads cross updates and devices fall behind. Misbehaving peers are simulated by
frames injected straight into the server (bad versions, other sessions, wrong / stale /
duplicate / failure acks, odd numbers, garbage, oversize frames, floods). The clock jumps
by small and large amounts, across the coalescing window, the connect and heartbeat
timeouts and session expiry.

Checked after every step: nothing is addressed to a closed connection; the server's
connections are exactly the peers' open ones; ack state is bounded and names only
devices still in their session; the session's checksum is the last accepted edit's; no
device ever fails to apply an update (every delta and checksum is exact); and ticking
at :meth:`~ServerProtocol.next_deadline` makes progress. At teardown, after a settle,
every device still connected holds the session's last accepted schema, by checksum.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lumora_fast import (
    calculate_checksum,
    create_ack_message,
    create_connect_message,
    create_error_message,
    create_ping_message,
    create_reload_message,
    serialize_message,
)
from lumora_fast.sessions import (
    Close,
    DeviceSession,
    DeviceState,
    ErrorEvent,
    Output,
    Send,
    ServerProtocol,
    SessionExpired,
    UpdateApplied,
    UpdateSent,
)

from ._helpers import T0, connect_bytes, make_schema

INTERVAL = 100 / 3  # a fraction: `(last + INTERVAL) - last` may round below INTERVAL
HEARTBEAT = 1_000  # dropped after 3 s of silence
CONNECT_TIMEOUT = 1_500
SESSION_TIMEOUT = 20_000
MAX_MESSAGE_BYTES = 4_000  # 20 nodes fit, 80 do not
MAX_INBOUND = 1_000
MAX_UNACKED = 2  # small, so that the bound is reached
MAX_SESSIONS = 3
OTHER_SESSION = "ffffffff-0000-4000-8000-000000000000"

Schema = dict[str, Any]


@dataclass(eq=False)
class Peer:
    """One WebSocket connection, with the device at its end."""

    conn: str
    session_id: str | None
    device: DeviceSession
    closed: bool = False
    """The server closed it (a Close was sent) or it was reported lost."""
    inbox: deque[Send | Close] = field(default_factory=deque)
    outbox: deque[bytes] = field(default_factory=deque)
    last_ack: bytes | None = None


@dataclass(eq=False)
class Expected:
    """What the test knows of one session, independently of the server."""

    id: str
    current: str | None
    """Checksum of the last accepted schema."""
    base: Schema | None
    """The last published schema that should be accepted: the next edit starts here."""
    held: tuple[Schema, bool] | None = None
    """The latest publish that produced no output (held, or equal to the current one),
    and whether it should be accepted."""
    live: bool = True


def _checksum(schema: Schema | None) -> str | None:
    return None if schema is None else calculate_checksum(schema)


class ServerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        ids = itertools.count(1)
        self.server = ServerProtocol(
            session_timeout_ms=SESSION_TIMEOUT,
            heartbeat_interval_ms=HEARTBEAT,
            connect_timeout_ms=CONNECT_TIMEOUT,
            update_interval_ms=INTERVAL,
            max_message_bytes=MAX_MESSAGE_BYTES,
            max_inbound_bytes=MAX_INBOUND,
            max_unacked=MAX_UNACKED,
            session_id_factory=lambda: f"{next(ids):08d}-0000-4000-8000-000000000000",
        )
        self.now = T0
        self.peers: list[Peer] = []
        self.by_conn: dict[str, Peer] = {}
        self.sessions: list[Expected] = []
        self.devices = itertools.count()
        self.node_ids = itertools.count(1000)
        self._new_session(make_schema(count=6))
        for _ in range(2):
            self.open(0, "live", True)
        self.deliver_all()

    # ------------------------------------------------------------------ network

    def route(self, outputs: list[Output]) -> None:
        """Carry out the server's outputs, checking each against the model."""
        for output in outputs:
            if isinstance(output, Send | Close):
                peer = self.by_conn.get(output.to or "")
                assert peer is not None, f"output to an unknown connection: {output!r}"
                assert not peer.closed, f"output to closed connection {output.to}: {output!r}"
                peer.inbox.append(output)
                if isinstance(output, Close):
                    peer.closed = True
            elif isinstance(output, SessionExpired):
                self._session(output.session_id).live = False

    def to_device(self, peer: Peer) -> None:
        """Deliver the next frame in ``peer``'s inbox."""
        output = peer.inbox.popleft()
        if isinstance(output, Close):
            # The driver: the device hears the close code, then the server hears the loss.
            peer.inbox.clear()
            peer.outbox.clear()
            peer.device.connection_lost(self.now, output.code)
            assert self.server.connection_lost(peer.conn, self.now) == []
            return
        for event in peer.device.receive(output.data, self.now):
            if isinstance(event, Send):
                peer.outbox.append(event.data)
                if b'"type":"ack"' in event.data:
                    peer.last_ack = event.data
            elif isinstance(event, UpdateApplied):
                assert event.success, f"device failed to apply an update: {event.error}"
                assert event.verified

    def to_server(self, peer: Peer, data: bytes | str) -> None:
        """A frame from ``peer`` reaches the server (a closed socket loses it)."""
        outputs = self.server.receive(peer.conn, data, self.now)
        if peer.closed:
            assert outputs == []
        self.route(outputs)

    def flush(self, peer: Peer) -> None:
        while peer.outbox:
            self.to_server(peer, peer.outbox.popleft())

    def deliver_all(self) -> None:
        for _ in range(1_000):
            busy = [p for p in self.peers if p.inbox or p.outbox]
            if not busy:
                return
            for peer in busy:
                while peer.inbox:
                    self.to_device(peer)
                self.flush(peer)
        raise AssertionError("the network never went quiet")

    def tick(self) -> None:
        self.check_outputs(self.server.tick(self.now))
        deadline = self.server.next_deadline()
        assert deadline is None or deadline > self.now, "tick() left a due deadline"

    # -------------------------------------------------------------------- model

    def _new_session(self, schema: Schema | None) -> None:
        session = self.server.create_session(self.now, schema)
        self.sessions.append(Expected(session.id, _checksum(schema), schema))

    def _session(self, session_id: str) -> Expected:
        return next(s for s in self.sessions if s.id == session_id)

    def check_outputs(
        self, outputs: list[Output], published: tuple[str, Schema, bool] | None = None
    ) -> None:
        """Route ``outputs`` and follow what they say about accepted schemas.

        ``published`` is the ``(session id, schema, should be accepted)`` of a publish.
        """
        self.route(outputs)
        for expected in self.sessions:
            sent = any(isinstance(o, UpdateSent) and o.session_id == expected.id for o in outputs)
            refused = any(
                isinstance(o, ErrorEvent)
                and o.session_id == expected.id
                and o.connection_id is None
                for o in outputs
            )
            if published is not None and published[0] == expected.id:
                if not sent and not refused:
                    expected.held = published[1:]  # held, or equal to the current schema
                    continue
                schema, ok = published[1:]
            elif sent or refused:
                assert expected.held is not None, f"an update nobody published: {expected.id}"
                schema, ok = expected.held
            else:
                continue
            assert (sent, refused) == (ok, not ok), f"accepted={sent}, expected {ok}: {schema}"
            if sent:
                expected.current = _checksum(schema)
            expected.held = None

    def live_sessions(self) -> list[Expected]:
        return [s for s in self.sessions if s.live and s.id in self.server.sessions]

    def open_peers(self) -> list[Peer]:
        return [p for p in self.peers if not p.closed]

    def edit(self, base: Schema | None, op: str, index: int) -> tuple[Schema, bool]:
        """A new schema from ``base``, and whether the server should accept it."""
        schema = copy.deepcopy(base) if base is not None else make_schema(count=5)
        nodes: list[Schema] = schema["nodes"]
        i = index % len(nodes) if nodes else 0
        if op == "edit" and nodes:
            nodes[i]["props"] = {**nodes[i].get("props", {}), "text": f"edit {index}"}
        elif op == "edit_all":
            for node in nodes:
                node["props"] = {"text": f"all {index}"}
        elif op == "add" and len(nodes) < 20:
            nodes.append({"id": f"n{next(self.node_ids)}", "type": "Text", "children": []})
        elif op == "remove" and len(nodes) > 1:
            del nodes[i]
        elif op == "reorder":
            nodes.reverse()
        elif op == "theme":
            schema["theme"] = {"mode": "dark" if index % 2 else "light"}
        elif op == "same":
            schema["metadata"] = {**schema["metadata"], "generatedAt": index}
        elif op == "no_metadata":
            return {"nodes": nodes}, False
        elif op == "huge":
            return make_schema(count=80), False
        return schema, True

    # -------------------------------------------------------------------- rules

    @precondition(lambda self: len(self.live_sessions()) < MAX_SESSIONS)
    @rule(count=st.none() | st.integers(1, 12))
    def create_session(self, count: int | None) -> None:
        self._new_session(None if count is None else make_schema(count=count))

    @precondition(lambda self: len(self.live_sessions()) > 1)
    @rule(which=st.integers(0, 99))
    def close_session(self, which: int) -> None:
        live = self.live_sessions()
        if not live:
            return
        expected = live[which % len(live)]
        self.route(self.server.close_session(expected.id, self.now))
        expected.live = False

    @rule(
        which=st.integers(0, 99),
        op=st.sampled_from(
            [
                "edit",
                "edit",
                "edit",
                "edit_all",
                "add",
                "remove",
                "reorder",
                "theme",
                "same",
                "no_metadata",
                "huge",
            ]
        ),
        index=st.integers(0, 50),
    )
    def publish(self, which: int, op: str, index: int) -> None:
        live = self.live_sessions()
        if not live:
            return
        expected = live[which % len(live)]
        published = self.edit(expected.base, op, index)
        if published[1]:
            expected.base = published[0]
        outputs = self.server.publish(expected.id, published[0], self.now)
        self.check_outputs(outputs, (expected.id, *published))

    @rule(
        which=st.integers(0, 99),
        count=st.integers(2, 8),
        gap=st.floats(0, INTERVAL * 0.6),
        index=st.integers(0, 50),
    )
    def edit_burst(self, which: int, count: int, gap: float, index: int) -> None:
        """Someone types: small edits in quick succession (they coalesce)."""
        for i in range(count):
            self.publish(which, "edit", index + i)
            self.now += gap

    @rule(
        which=st.integers(0, 99),
        to=st.sampled_from(["live", "live", "live", "any", "none"]),
        connect=st.sampled_from([True, True, True, False]),
    )
    def open(self, which: int, to: str, connect: bool) -> None:
        sessions = [] if to == "none" else self.live_sessions() if to == "live" else self.sessions
        session_id = sessions[which % len(sessions)].id if sessions else None
        device = DeviceSession(
            session_id or OTHER_SESSION,
            f"d{next(self.devices)}",
            ping_interval_ms=HEARTBEAT,
            timer=lambda: 0.0,
        )
        self._attach(device, session_id, connect)

    def _attach(self, device: DeviceSession, session_id: str | None, connect: bool) -> None:
        conn, outputs = self.server.open(session_id, self.now)
        peer = Peer(conn, session_id, device)
        self.peers.append(peer)
        self.by_conn[conn] = peer
        self.route(outputs)
        if connect and not peer.closed:
            peer.outbox.extend(s.data for s in device.connect(self.now) if isinstance(s, Send))

    @rule(which=st.integers(0, 99))
    def reconnect(self, which: int) -> None:
        """A device whose connection ended (not fatally) opens a new one."""
        waiting = [
            p
            for p in self.peers
            if p.closed
            and p.device.state is DeviceState.DISCONNECTED
            and p.session_id is not None
            and not any(q.device is p.device and not q.closed for q in self.peers)
        ]
        if waiting:
            peer = waiting[which % len(waiting)]
            self._attach(peer.device, peer.session_id, connect=True)

    @rule(which=st.integers(0, 99))
    def connect(self, which: int) -> None:
        """The device sends ``connect`` (again, if it already did)."""
        peers = self.open_peers()
        if peers:
            peer = peers[which % len(peers)]
            peer.outbox.extend(s.data for s in peer.device.connect(self.now) if isinstance(s, Send))

    @rule(which=st.integers(0, 99), count=st.integers(1, 4))
    def deliver_to_device(self, which: int, count: int) -> None:
        peers = [p for p in self.peers if p.inbox]
        if peers:
            peer = peers[which % len(peers)]
            for _ in range(min(count, len(peer.inbox))):
                self.to_device(peer)

    @rule(which=st.integers(0, 99), count=st.integers(1, 4))
    def deliver_to_server(self, which: int, count: int) -> None:
        peers = [p for p in self.peers if p.outbox]
        if peers:
            peer = peers[which % len(peers)]
            for _ in range(min(count, len(peer.outbox))):
                self.to_server(peer, peer.outbox.popleft())

    @rule()
    def deliver_everything(self) -> None:
        self.deliver_all()

    @rule(
        which=st.integers(0, 99),
        kind=st.sampled_from(
            [
                "ack_current",
                "ack_random",
                "ack_failure",
                "ack_duplicate",
                "ack_odd",
                "reload",
                "ping",
                "error",
                "connect_again",
                "connect_minor",
                "connect_major",
                "other_session",
                "garbage",
                "not_utf8",
                "text",
                "oversize",
                "at_limit",
            ]
        ),
        number=st.integers(-1, 30),
    )
    def inject(self, which: int, kind: str, number: int) -> None:
        """A frame the device did not write reaches the server, after its own frames."""
        if not self.peers:
            return
        peer = self.peers[which % len(self.peers)]
        self.flush(peer)
        sid = peer.session_id or OTHER_SESSION
        frame: bytes | str
        if kind == "ack_current":
            sequence = peer.device.sequence if peer.device.sequence is not None else number
            frame = serialize_message(create_ack_message(sid, sequence, True, timestamp=1))
        elif kind == "ack_random":
            frame = serialize_message(create_ack_message(sid, number, True, timestamp=1))
        elif kind == "ack_failure":
            frame = serialize_message(create_ack_message(sid, number, False, "x", timestamp=1))
        elif kind == "ack_duplicate":
            frame = peer.last_ack or serialize_message(create_ack_message(sid, 1, True))
        elif kind == "ack_odd":
            odd = ["1e400", "2.5", "-0", "1" + "0" * 30][number % 4]
            frame = (
                f'{{"type":"ack","sessionId":"{sid}","timestamp":1,"version":"1.0.0",'
                f'"payload":{{"sequenceNumber":{odd},"success":true}}}}'
            )
        elif kind == "reload":
            frame = serialize_message(create_reload_message(sid, "manual", timestamp=1))
        elif kind == "ping":
            frame = serialize_message(create_ping_message(sid, timestamp=1))
        elif kind == "error":
            frame = serialize_message(
                create_error_message(sid, "UPDATE_FAILED", "boom", "error", True, timestamp=1)
            )
        elif kind == "connect_again":
            frame = serialize_message(
                create_connect_message(sid, peer.device.device_id, "web", timestamp=1)
            )
        elif kind in ("connect_minor", "connect_major"):
            frame = connect_bytes(sid, "x", "1.1.0" if kind == "connect_minor" else "2.0.0")
        elif kind == "other_session":
            frame = serialize_message(create_ping_message(OTHER_SESSION, timestamp=1))
        elif kind == "garbage":
            frame = [b"{not json", b"[]", b'{"type":"ping"}', b"null", b""][number % 5]
        elif kind == "not_utf8":
            frame = b'{"type":"ping","sessionId":"\xff"}'
        elif kind == "text":
            frame = serialize_message(create_ping_message(sid, timestamp=1)).decode()
        elif kind == "oversize":
            frame = b"x" * (MAX_INBOUND + 1 + number)
        else:
            frame = b" " * (MAX_INBOUND - 2) + b"{}"
        self.to_server(peer, frame)

    @rule(which=st.integers(0, 99), count=st.integers(1, 250))
    def flood(self, which: int, count: int) -> None:
        peers = self.open_peers()
        if peers:
            peer = peers[which % len(peers)]
            ping = serialize_message(create_ping_message(peer.session_id or OTHER_SESSION))
            for _ in range(count):
                self.to_server(peer, ping)

    @rule(which=st.integers(0, 99))
    def hang_up(self, which: int) -> None:
        """The device side ends the connection."""
        peers = self.open_peers()
        if peers:
            peer = peers[which % len(peers)]
            peer.closed = True  # from here on, nothing may be addressed to it
            peer.inbox.clear()
            peer.outbox.clear()
            peer.device.connection_lost(self.now, None)
            self.route(self.server.connection_lost(peer.conn, self.now))

    @rule(which=st.integers(0, 99))
    def fall_behind(self, which: int) -> None:
        """The driver drops a slow device's queued updates and asks for a resync."""
        peers = self.open_peers()
        if peers:
            peer = peers[which % len(peers)]
            peer.inbox = deque(o for o in peer.inbox if isinstance(o, Close) or o.update is None)
            self.route(self.server.resync(peer.conn, self.now))

    @rule(
        step=st.one_of(
            st.floats(0, INTERVAL * 1.5),
            st.floats(INTERVAL, HEARTBEAT * 2),
            st.sampled_from(
                [CONNECT_TIMEOUT, 3 * HEARTBEAT, 3 * HEARTBEAT - 0.5, 5_000, SESSION_TIMEOUT]
            ),
        ),
        pings=st.sampled_from(["delivered", "delivered", "queued", "none"]),
        tick=st.booleans(),
    )
    def advance(self, step: float, pings: str, tick: bool) -> None:
        """Time passes; devices may ping (and be heard); the driver's timer may fire."""
        self.now += step
        if pings != "none":
            for peer in self.open_peers():
                for output in peer.device.tick(self.now):
                    if isinstance(output, Send):
                        peer.outbox.append(output.data)
                if pings == "delivered":
                    self.flush(peer)
        if tick:
            self.tick()

    @rule()
    def tick_at_deadline(self) -> None:
        """The driver's timer fires at the deadline (when that is soon)."""
        deadline = self.server.next_deadline()
        if deadline is not None and deadline <= self.now + 2 * CONNECT_TIMEOUT:
            self.now = max(self.now, deadline)
            self.tick()

    # --------------------------------------------------------------- invariants

    @invariant()
    def connections_are_the_open_peers(self) -> None:
        assert set(self.server.connections) == {p.conn for p in self.open_peers()}

    @invariant()
    def ack_state_is_bounded_and_names_only_present_devices(self) -> None:
        for session in self.server.sessions.values():
            assert len(session.inflight) <= MAX_UNACKED
            for sequence, owing in session.inflight.items():
                assert sequence <= session.sequence
                assert owing <= set(session.devices), f"ledger names departed devices {owing}"
            for conn in session.devices.values():
                assert conn.session_id == session.id
                assert self.server.connections.get(conn.id) is conn
                assert len(conn.pending) <= MAX_UNACKED

    @invariant()
    def sessions_hold_the_last_accepted_schema(self) -> None:
        for expected in self.live_sessions():
            assert self.server.sessions[expected.id].checksum == expected.current

    @invariant()
    def next_deadline_is_a_time(self) -> None:
        deadline = self.server.next_deadline()
        assert deadline is None or (isinstance(deadline, int | float) and math.isfinite(deadline))

    def teardown(self) -> None:
        """Settle: the held edits go out, every frame is delivered, devices catch up."""
        for _ in range(50):
            self.deliver_all()
            if all(s.pending is None for s in self.server.sessions.values()):
                break
            self.now += INTERVAL
            self.tick()
        else:
            raise AssertionError("held edits never went out")
        self.deliver_all()
        for peer in self.open_peers():
            if peer.device.state is not DeviceState.CONNECTED:
                continue  # never connected, or its connect is still unanswered
            assert peer.session_id is not None
            expected = self._session(peer.session_id)
            assert expected.live
            assert peer.device.checksum == expected.current, f"device {peer.conn} diverged"


ServerMachine.TestCase.settings = settings(
    max_examples=2 * settings().max_examples,  # 200 with the CI profile
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_server_state_machine = ServerMachine.TestCase
