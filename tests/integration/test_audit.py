"""The audit trail on the real Redis and a real server: every operator change is written with
who, when, what and why; reads are not; an event's trail pages newest first."""

import json
import time

import grpc
import pytest

from tests.integration.conftest import ADMIN, create_event
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

ALICE = (*ADMIN, ("x-operator", "alice"), ("x-reason", "the venue added a block"))


async def test_each_change_is_written_with_who_when_what_and_why(
    start_server, channel_to, event_id
):
    channel = channel_to(await start_server())
    admin = pb_grpc.AdminServiceStub(channel)
    before_ms = int(time.time() * 1000)
    await create_event(channel, event_id, max_concurrent=5, tickets=100)
    await admin.UpdateEvent(pb.UpdateEventRequest(event_id=event_id, tickets=120), metadata=ALICE)
    pause = pb.UpdateEventRequest(event_id=event_id, action=pb.EVENT_ACTION_PAUSE)
    await admin.UpdateEvent(pause, metadata=ADMIN)
    await admin.GetEvent(pb.GetEventRequest(event_id=event_id), metadata=ADMIN)  # not an action
    trail = pb.ListAuditEntriesRequest(event_id=event_id)
    entries = (await admin.ListAuditEntries(trail, metadata=ADMIN)).entries
    assert [e.action for e in entries] == ["UpdateEvent", "UpdateEvent", "CreateEvent"]
    paused, raised, created = entries
    assert (raised.operator, raised.reason) == ("alice", "the venue added a block")
    assert json.loads(raised.detail) == {"event_id": event_id, "tickets": "120"}
    assert json.loads(paused.detail)["action"] == "EVENT_ACTION_PAUSE"
    assert (created.operator, created.reason) == ("admin", "")
    assert json.loads(created.detail)["max_concurrent"] == 5
    assert all(e.event_id == event_id and e.peer for e in entries)
    assert before_ms <= created.at.ToMilliseconds() <= paused.at.ToMilliseconds()
    every = (await admin.ListAuditEntries(pb.ListAuditEntriesRequest(), metadata=ADMIN)).entries
    assert paused.entry_id in [e.entry_id for e in every]


async def test_the_trail_pages_newest_first_and_refuses_bad_requests(
    start_server, channel_to, event_id
):
    channel = channel_to(await start_server())
    admin = pb_grpc.AdminServiceStub(channel)
    await create_event(channel, event_id)
    for tickets in range(1, 6):
        change = pb.UpdateEventRequest(event_id=event_id, tickets=tickets)
        await admin.UpdateEvent(change, metadata=ADMIN)
    page = pb.ListAuditEntriesRequest(event_id=event_id, limit=4)
    first = (await admin.ListAuditEntries(page, metadata=ADMIN)).entries
    page.before = first[-1].entry_id
    second = (await admin.ListAuditEntries(page, metadata=ADMIN)).entries
    tickets = [json.loads(e.detail).get("tickets") for e in (*first, *second)]
    assert tickets == ["5", "4", "3", "2", "1", None]  # the last: CreateEvent
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await admin.ListAuditEntries(pb.ListAuditEntriesRequest(before="x"), metadata=ADMIN)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await admin.ListAuditEntries(pb.ListAuditEntriesRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    failed = pb.UpdateEventRequest(event_id=event_id, max_concurrent=0)
    with pytest.raises(grpc.aio.AioRpcError):
        await admin.UpdateEvent(failed, metadata=ADMIN)
    whole = pb.ListAuditEntriesRequest(event_id=event_id)
    assert (
        len((await admin.ListAuditEntries(whole, metadata=ADMIN)).entries) == 6
    )  # not refused ones
