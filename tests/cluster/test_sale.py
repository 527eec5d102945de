"""One whole sale on the cluster stack: joins, admission in join order, an expiry, a purchase
that sells the last tickets, and everyone still in line told SOLD_OUT; the topics, read from
offset 0 on the three brokers, and stats tell the same story."""

import asyncio

import pytest

from common.kafka import topics
from drills import cluster, observe
from drills.topics_read import of_event, read_all
from waitroomapi.checkout.v1 import checkout_pb2 as cpb
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]
ADMITTED = {pb.SESSION_STATUS_ADMITTED}


async def join_in_order(stack, event_id: str, count: int) -> list[str]:
    """Joins one after the other, alternating replicas, so join order is known."""
    sessions = []
    for n in range(count):
        request = pb.JoinQueueRequest(user_id=f"fan-{n}", event_id=event_id)
        reply = await stack.queues[n % 2].JoinQueue(request, timeout=30)
        sessions.append(reply.session_id)
    return sessions


async def tickets_held(stack, token: str, wanted: int) -> cpb.Checkout:
    """The hold, once it holds `wanted` tickets: an expired hold's tickets come back to the
    waiting holds when checkout's sweeper ends it, a moment after the waitroom freed the slot."""
    request = cpb.GetCheckoutRequest(checkout_token=token)
    for _ in range(100):
        hold = await stack.checkout.GetCheckout(request, timeout=10)
        if hold.quantity >= wanted or hold.status != cpb.HOLD_STATUS_HELD:
            return hold
        await asyncio.sleep(0.2)
    return hold


async def events_on(event_id: str, topic: str, count: int) -> list[dict]:
    for _ in range(60):
        found = of_event((await read_all(cluster.KAFKA, (topic,))).get(topic, []), event_id)
        if len(found) >= count:
            return found
        await asyncio.sleep(1)
    return found


async def test_a_sale_runs_to_sold_out_on_the_cluster(stack, event_id):
    await stack.create_event(
        event_id, max_concurrent=1, batch_size=1, checkout_ttl_seconds=3, tickets=2
    )
    first, second, third, fourth = await join_in_order(stack, event_id, 4)

    admitted = await stack.status_until(first, ADMITTED)
    waiting = await stack.status_until(second, {pb.SESSION_STATUS_QUEUED}, replica=1)
    assert admitted.checkout_token
    assert (waiting.status, waiting.position) == (pb.SESSION_STATUS_QUEUED, 1)

    # The first walks away: the hold expires and the slot goes to the next in line.
    expired = await stack.status_until(first, {pb.SESSION_STATUS_EXPIRED})
    assert expired.status == pb.SESSION_STATUS_EXPIRED
    second_in = await stack.status_until(second, ADMITTED, replica=1)
    assert second_in.status == pb.SESSION_STATUS_ADMITTED
    assert (await tickets_held(stack, second_in.checkout_token, 2)).quantity == 2

    order = await stack.checkout.CompletePurchase(
        cpb.CompletePurchaseRequest(
            checkout_token=second_in.checkout_token, quantity=2, payment_reference="pay-2"
        ),
        timeout=30,
    )
    assert order.quantity == 2

    sold_out = {pb.SESSION_STATUS_SOLD_OUT}
    for session, replica in ((third, 0), (fourth, 1)):
        told = await stack.status_until(session, sold_out, replica=replica)
        assert told.status == pb.SESSION_STATUS_SOLD_OUT
    done = await stack.status_until(second, {pb.SESSION_STATUS_COMPLETED})
    assert done.status == pb.SESSION_STATUS_COMPLETED


async def test_the_topics_and_stats_of_a_sale_agree_with_what_people_were_told(stack, event_id):
    await stack.create_event(
        event_id, max_concurrent=1, batch_size=1, checkout_ttl_seconds=3, tickets=2
    )
    first, second, third = await join_in_order(stack, event_id, 3)
    await stack.status_until(first, {pb.SESSION_STATUS_EXPIRED})
    token = (await stack.status_until(second, ADMITTED)).checkout_token
    await tickets_held(stack, token, 2)
    await stack.checkout.CompletePurchase(
        cpb.CompletePurchaseRequest(checkout_token=token, quantity=2, payment_reference="p"),
        timeout=30,
    )
    await stack.status_until(third, {pb.SESSION_STATUS_SOLD_OUT})

    ready = await events_on(event_id, topics.QUEUE_READY, 2)
    assert [r["session_id"] for r in sorted(ready, key=lambda r: r["join_sequence"])] == [
        first,
        second,
    ]
    assert [r["session_id"] for r in await events_on(event_id, topics.CHECKOUT_EXPIRED, 1)] == [
        first
    ]
    completed = await events_on(event_id, topics.CHECKOUT_COMPLETED, 1)
    assert [(r["session_id"], r["quantity"]) for r in completed] == [(second, 2)]
    assert len(await events_on(event_id, topics.EVENT_SOLD_OUT, 1)) == 1
    stats = await observe.stats_of(event_id)
    for _ in range(30):
        if stats["tickets_sold"] == 2 and stats["expired"] == 1:
            break
        await asyncio.sleep(1)
        stats = await observe.stats_of(event_id)
    assert (stats["joined"], stats["admitted"], stats["completed"]) == (3, 2, 1)
    assert (stats["expired"], stats["tickets_sold"]) == (1, 2)
