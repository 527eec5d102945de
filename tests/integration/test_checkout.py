"""The closed loop on the real Redis and Kafka: admission, holds, purchase, expiry, sold out."""

import asyncio
import random
import time

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.kafka import topics
from common.kafka.messages import from_json
from common.kafka.publisher import Publisher, Record
from common.tokens.ids import make_session_id
from common.tokens.signing import CheckoutClaims, TokenSigner
from tests.integration.conftest import KAFKA, create_event
from waitroomapi.checkout.v1 import checkout_pb2 as cpb
from waitroomapi.checkout.v1 import checkout_pb2_grpc as cpb_grpc
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

pytestmark = pytest.mark.usefixtures("checkout_keys")


async def loop_servers(start_server, start_checkout, channel_to, checkout=None, **waitroom):
    wr = await start_server(**waitroom)
    co = await start_checkout(wr, **(checkout or {}))
    return wr, co, channel_to(wr), grpc.aio.insecure_channel(f"127.0.0.1:{co.port}")


async def inventory(redis, event_id):
    raw = await redis.hgetall(f"checkout:{{{event_id}}}:config")
    return {k: int(raw.get(k, 0)) for k in ("total", "available", "sold")}


async def until(predicate, within=30.0, every=0.05):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(every)
    return False


async def admitted_token(queue, session_id, within=30.0):
    found = {}

    async def admitted():
        status = await queue.GetQueueStatus(pb.GetQueueStatusRequest(session_id=session_id))
        found["status"] = status
        return status.status != pb.SESSION_STATUS_QUEUED

    assert await until(admitted, within)
    return found["status"]


async def test_the_full_loop_keeps_every_invariant(
    start_server, start_checkout, channel_to, event_id, redis
):
    _, _, channel, checkout_channel = await loop_servers(start_server, start_checkout, channel_to)
    await create_event(
        channel, event_id, max_concurrent=15, batch_size=15, checkout_ttl_seconds=2, tickets=1000
    )
    queue = pb_grpc.WaitroomServiceStub(channel)
    checkout = cpb_grpc.CheckoutServiceStub(checkout_channel)
    assert await until(lambda: _configured(redis, event_id))
    rng = random.Random(7)
    people: list[str] = []
    plans: dict[str, str] = {}
    bought: dict[str, int] = {}
    most_in_checkout = 0

    async def person(session_id):
        status = await admitted_token(queue, session_id, within=90)
        token = status.checkout_token
        await asyncio.sleep(rng.uniform(0, 0.3))
        if plans[session_id] == "buy":
            quantity = rng.randint(1, 4)
            order = await checkout.CompletePurchase(
                cpb.CompletePurchaseRequest(
                    checkout_token=token, quantity=quantity, payment_reference=f"pay-{session_id}"
                )
            )
            bought[session_id] = order.quantity
        elif plans[session_id] == "cancel":
            await checkout.CancelCheckout(cpb.CancelCheckoutRequest(checkout_token=token))

    async def watch():
        nonlocal most_in_checkout
        while True:
            most_in_checkout = max(
                most_in_checkout, await redis.zcard(f"waitroom:{{{event_id}}}:processing")
            )
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        # each person watches from the moment they join: holds last 2 s, so someone admitted
        # while others still join must not miss theirs
        persons = []
        for i in range(120):
            joined = await queue.JoinQueue(
                pb.JoinQueueRequest(user_id=f"fan{i}", event_id=event_id)
            )
            people.append(joined.session_id)
            plans[joined.session_id] = rng.choice(["buy", "buy", "buy", "cancel", "walk away"])
            persons.append(asyncio.create_task(person(joined.session_id)))
        await asyncio.wait_for(asyncio.gather(*persons), 120)
        assert await until(lambda: _drained(redis, event_id), within=30)
    finally:
        watcher.cancel()
        await checkout_channel.close()

    assert 0 < most_in_checkout <= 15
    expected = {
        "buy": pb.SESSION_STATUS_COMPLETED,
        "cancel": pb.SESSION_STATUS_CANCELLED,
        "walk away": pb.SESSION_STATUS_EXPIRED,
    }
    finals = {
        s: (await queue.GetQueueStatus(pb.GetQueueStatusRequest(session_id=s))).status
        for s in people
    }
    assert finals == {s: expected[plans[s]] for s in people}
    stock = await inventory(redis, event_id)
    assert stock["sold"] == sum(bought.values())
    assert stock["available"] + stock["sold"] == stock["total"] == 1000  # nothing still held


async def _configured(redis, event_id):
    return await redis.exists(f"checkout:{{{event_id}}}:config") == 1


async def _drained(redis, event_id):
    return (
        await redis.zcard(f"waitroom:{{{event_id}}}:processing") == 0
        and await redis.zcard(f"checkout:{{{event_id}}}:holds") == 0
    )


async def test_sold_out_reaches_everyone_in_line(
    start_server, start_checkout, channel_to, event_id, redis, kafka_tail
):
    tail = await kafka_tail(topics.EVENT_SOLD_OUT)
    _, _, channel, checkout_channel = await loop_servers(
        start_server, start_checkout, channel_to, checkout={"checkout_tickets_per_hold": 2}
    )
    await create_event(
        channel, event_id, max_concurrent=3, batch_size=3, tickets=6, checkout_ttl_seconds=60
    )
    assert await until(lambda: _configured(redis, event_id))
    queue = pb_grpc.WaitroomServiceStub(channel)
    checkout = cpb_grpc.CheckoutServiceStub(checkout_channel)
    people = [
        (
            await queue.JoinQueue(pb.JoinQueueRequest(user_id=f"fan{i}", event_id=event_id))
        ).session_id
        for i in range(20)
    ]
    for session_id in people[:3]:
        token = (await admitted_token(queue, session_id)).checkout_token
        await checkout.CompletePurchase(
            cpb.CompletePurchaseRequest(
                checkout_token=token, quantity=2, payment_reference=f"pay-{session_id}"
            )
        )
    await checkout_channel.close()

    sold_out = await tail.collect(lambda r: r.key == event_id.encode(), count=1)
    assert from_json(sold_out[0].value, events_pb2.EventSoldOut()).tickets == 6

    async def everyone_told():
        statuses = [
            (await queue.GetQueueStatus(pb.GetQueueStatusRequest(session_id=s))).status
            for s in people[3:]
        ]
        return set(statuses) == {pb.SESSION_STATUS_SOLD_OUT}

    assert await until(everyone_told)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await queue.JoinQueue(pb.JoinQueueRequest(user_id="latecomer", event_id=event_id))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "sold out" in error.value.details()
    assert (await inventory(redis, event_id))["sold"] == 6


def claims(event_id, token="T" * 22, ttl=600, now=None, session_event=None):
    now = int(time.time()) if now is None else now
    session_id = make_session_id(session_event or event_id, token)
    return CheckoutClaims(session_id, event_id, "user1", now, now + ttl)


async def test_every_kind_of_bad_token_is_refused_and_changes_nothing(
    start_server, start_checkout, channel_to, event_id, redis
):
    wr, _, channel, checkout_channel = await loop_servers(
        start_server, start_checkout, channel_to, queue_processor_enabled=False
    )
    await create_event(channel, event_id, tickets=100)
    assert await until(lambda: _configured(redis, event_id))
    checkout = cpb_grpc.CheckoutServiceStub(checkout_channel)
    forger = TokenSigner(Ed25519PrivateKey.generate())
    cases = [
        ("", grpc.StatusCode.UNAUTHENTICATED),
        ("not-a-token", grpc.StatusCode.UNAUTHENTICATED),
        ("x" * 10_000, grpc.StatusCode.UNAUTHENTICATED),
        (forger.sign(claims(event_id)), grpc.StatusCode.UNAUTHENTICATED),
        (
            wr.signer.sign(claims(event_id, now=int(time.time()) - 3600)),
            grpc.StatusCode.UNAUTHENTICATED,
        ),
        (
            wr.signer.sign(claims(event_id, session_event="other-event")),
            grpc.StatusCode.PERMISSION_DENIED,
        ),
    ]
    before = await inventory(redis, event_id)
    for token, code in cases:
        for call in (
            checkout.GetCheckout(cpb.GetCheckoutRequest(checkout_token=token)),
            checkout.CompletePurchase(
                cpb.CompletePurchaseRequest(checkout_token=token, quantity=1, payment_reference="p")
            ),
            checkout.CancelCheckout(cpb.CancelCheckoutRequest(checkout_token=token)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call
            assert error.value.code() == code, token[:40]
    assert await inventory(redis, event_id) == before

    valid = wr.signer.sign(claims(event_id))
    order = await checkout.CompletePurchase(
        cpb.CompletePurchaseRequest(quantity=1, payment_reference="pay-1"),
        metadata=(("authorization", f"Bearer {valid}"),),
    )
    again = await checkout.CompletePurchase(
        cpb.CompletePurchaseRequest(checkout_token=valid, quantity=1, payment_reference="pay-1")
    )
    assert again.order_id == order.order_id
    with pytest.raises(grpc.aio.AioRpcError) as error:  # replayed for a second purchase
        await checkout.CompletePurchase(
            cpb.CompletePurchaseRequest(checkout_token=valid, quantity=1, payment_reference="pay-2")
        )
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await checkout.CompletePurchase(
            cpb.CompletePurchaseRequest(checkout_token=valid, quantity=0, payment_reference="pay-3")
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await checkout_channel.close()
    assert (await inventory(redis, event_id))["sold"] == 1


async def test_a_token_seen_before_its_queue_ready_makes_the_same_single_hold(
    start_server, start_checkout, channel_to, event_id, redis
):
    wr, _, channel, checkout_channel = await loop_servers(
        start_server, start_checkout, channel_to, queue_processor_enabled=False
    )
    await create_event(channel, event_id, tickets=10)
    assert await until(lambda: _configured(redis, event_id))
    checkout = cpb_grpc.CheckoutServiceStub(checkout_channel)
    c = claims(event_id)
    token = wr.signer.sign(c)
    hold = await checkout.GetCheckout(cpb.GetCheckoutRequest(checkout_token=token))
    assert (hold.status, hold.quantity) == (cpb.HOLD_STATUS_HELD, 4)

    await publish_twice(
        topics.QUEUE_READY,
        c.session_id,
        events_pb2.QueueReady(
            message_id="ready-1",
            session_id=c.session_id,
            user_id=c.user_id,
            event_id=event_id,
            checkout_token=token,
        ),
    )
    await asyncio.sleep(1.5)
    assert (await inventory(redis, event_id))["available"] == 6  # set aside once
    again = await checkout.GetCheckout(cpb.GetCheckoutRequest(checkout_token=token))
    assert (again.quantity, again.expires_at) == (4, hold.expires_at)
    await checkout_channel.close()


async def publish_twice(topic, key, message):
    from common.kafka.messages import to_json

    publisher = Publisher(KAFKA, 10, "test")
    try:
        await publisher.publish([Record(topic, key, to_json(message))] * 2)
    finally:
        await publisher.stop()


async def test_duplicate_checkout_outcomes_free_one_slot_once(
    start_server, channel_to, event_id, redis
):
    channel = channel_to(await start_server())
    await create_event(channel, event_id, max_concurrent=2, batch_size=2, checkout_ttl_seconds=60)
    queue = pb_grpc.WaitroomServiceStub(channel)
    people = [
        (await queue.JoinQueue(pb.JoinQueueRequest(user_id=f"u{i}", event_id=event_id))).session_id
        for i in range(4)
    ]
    await admitted_token(queue, people[1])
    completed = events_pb2.CheckoutCompleted(
        message_id="done-1",
        session_id=people[0],
        user_id="u0",
        event_id=event_id,
        order_id="o-1",
        quantity=1,
        payment_reference="p",
    )
    await publish_twice(topics.CHECKOUT_COMPLETED, people[0], completed)
    await admitted_token(queue, people[2])
    await asyncio.sleep(1)  # a second delivery would have freed one more slot by now
    statuses = [
        (await queue.GetQueueStatus(pb.GetQueueStatusRequest(session_id=s))).status for s in people
    ]
    assert statuses == [
        pb.SESSION_STATUS_COMPLETED,
        pb.SESSION_STATUS_ADMITTED,
        pb.SESSION_STATUS_ADMITTED,
        pb.SESSION_STATUS_QUEUED,
    ]


@pytest.mark.parametrize("topic", [topics.QUEUE_READY, topics.EVENT_UPDATED])
async def test_poison_reaches_the_dlq_and_checkout_keeps_consuming(
    start_server, start_checkout, channel_to, event_id, redis, kafka_tail, topic
):
    dlq = await kafka_tail(topics.dead_letter(topic))
    _, _, channel, checkout_channel = await loop_servers(
        start_server, start_checkout, channel_to, queue_processor_enabled=False
    )
    publisher = Publisher(KAFKA, 10, "test")
    poison = f"garbage for {event_id}".encode()
    try:
        await publisher.publish(
            [Record(topic, event_id, poison), Record(topic, event_id, b'{"message_id": 42}')]
        )
    finally:
        await publisher.stop()
    await create_event(channel, event_id, tickets=10)  # a good EVENT_UPDATED after the poison

    # Every consumer of the topic (the stack's checkout and stats too) dead-letters it: keep ours.
    def ours(record):
        letter = from_json(record.value, events_pb2.DeadLetter())
        return record.key == event_id.encode() and letter.consumer_group.startswith("checkout-it-")

    letters = [
        from_json(r.value, events_pb2.DeadLetter()) for r in await dlq.collect(ours, count=2)
    ]
    assert sorted(letter.value for letter in letters) == sorted(
        [poison.decode(), '{"message_id": 42}']
    )
    assert all(letter.topic == topic and "not a valid" in letter.error for letter in letters)
    assert await until(lambda: _configured(redis, event_id))
    await checkout_channel.close()


@pytest.mark.parametrize("topic", [topics.CHECKOUT_COMPLETED, topics.EVENT_SOLD_OUT])
async def test_poison_reaches_the_dlq_and_the_waitroom_keeps_consuming(
    start_server, channel_to, event_id, kafka_tail, topic
):
    dlq = await kafka_tail(topics.dead_letter(topic))
    await start_server(queue_processor_enabled=False)
    publisher = Publisher(KAFKA, 10, "test")
    try:
        await publisher.publish([Record(topic, event_id, b"\xff\xfe not json")])
    finally:
        await publisher.stop()
    letters = await dlq.collect(lambda r: r.key == event_id.encode(), count=1)
    assert from_json(letters[0].value, events_pb2.DeadLetter()).topic == topic


async def test_concurrent_purchases_never_sell_a_ticket_twice(
    start_server, start_checkout, channel_to, event_id, redis
):
    wr, _, channel, checkout_channel = await loop_servers(
        start_server, start_checkout, channel_to, queue_processor_enabled=False
    )
    await create_event(channel, event_id, tickets=10)
    assert await until(lambda: _configured(redis, event_id))
    checkout = cpb_grpc.CheckoutServiceStub(checkout_channel)
    tokens = [wr.signer.sign(claims(event_id, token=f"{i:0>22}")) for i in range(8)]
    holds = await asyncio.gather(
        *(checkout.GetCheckout(cpb.GetCheckoutRequest(checkout_token=t)) for t in tokens)
    )
    assert sorted(h.quantity for h in holds) == [0, 0, 0, 0, 0, 2, 4, 4]

    async def buy(token, attempt):
        try:
            order = await checkout.CompletePurchase(
                cpb.CompletePurchaseRequest(
                    checkout_token=token, quantity=2, payment_reference=f"p-{attempt}"
                )
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
        return token, order.order_id, order.quantity

    # Three different purchases race on every token: at most one per token may win.
    results = await asyncio.gather(*(buy(t, n) for t in tokens for n in range(3)))
    wins = [r for r in results if isinstance(r, tuple)]
    losses = {r for r in results if not isinstance(r, tuple)}
    assert losses <= {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION}
    # one purchase per token at most; holds that waited get the tickets others did not buy
    assert len({token for token, _, _ in wins}) == len(wins) >= 3
    sold = [quantity for _, _, quantity in wins]
    stock = await inventory(redis, event_id)
    assert stock["sold"] == sum(sold) <= 10
    assert stock["available"] >= 0
    await checkout_channel.close()


async def test_checkout_stores_only_what_its_scripts_read(
    start_server, start_checkout, channel_to, event_id, redis
):
    wr, _, channel, checkout_channel = await loop_servers(
        start_server, start_checkout, channel_to, queue_processor_enabled=False
    )
    await create_event(channel, event_id, tickets=10)
    assert await until(lambda: _configured(redis, event_id))
    checkout = cpb_grpc.CheckoutServiceStub(checkout_channel)
    request = cpb.CompletePurchaseRequest(
        checkout_token=wr.signer.sign(claims(event_id)), quantity=1, payment_reference="p-1"
    )
    await checkout.CompletePurchase(request)
    config = await redis.hkeys(f"checkout:{{{event_id}}}:config")
    hold = await redis.hkeys(f"checkout:{{{event_id}}}:hold:{'T' * 22}")
    assert set(config) == {"version", "total", "available", "sold", "per_hold"}
    assert set(hold) == {
        "status",
        "user_id",
        "quantity",
        "expires_at",
        "order_id",
        "payment_reference",
        "purchased",
    }
    await checkout_channel.close()


async def test_a_replayed_or_older_event_updated_changes_nothing(
    start_server, start_checkout, event_id, redis
):
    await start_checkout(await start_server(queue_processor_enabled=False))

    def settings(version, tickets, message_id):
        return events_pb2.EventUpdated(
            message_id=message_id,
            event_id=event_id,
            version=version,
            tickets=tickets,
            max_concurrent=10,
            batch_size=5,
            checkout_ttl_seconds=60,
            state="open",
        )

    await publish_twice(topics.EVENT_UPDATED, event_id, settings(5, 50, "v5"))
    assert await until(lambda: _configured(redis, event_id))
    publisher = Publisher(KAFKA, 10, "test")
    try:
        from common.kafka.messages import to_json

        await publisher.publish(
            [
                Record(topics.EVENT_UPDATED, event_id, to_json(settings(4, 99, "v4"))),
                Record(topics.EVENT_UPDATED, event_id, to_json(settings(6, 40, "v6"))),
            ]
        )
    finally:
        await publisher.stop()

    async def at_version_6():
        return await redis.hget(f"checkout:{{{event_id}}}:config", "version") == "6"

    assert await until(at_version_6)
    assert await inventory(redis, event_id) == {"total": 40, "available": 40, "sold": 0}
