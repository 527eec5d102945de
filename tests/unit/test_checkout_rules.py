"""Checkout's rules with fakes: a QUEUE_READY must match its token; refusals read right."""

from types import SimpleNamespace

import pytest

from checkout.consumer import CheckoutHandlers
from checkout.models import (
    Admission,
    CatchingUpError,
    FailedPreconditionError,
    Holder,
    PermissionDeniedError,
    Refusal,
    UnknownEventError,
)
from checkout.service import CheckoutService
from common.kafka import topics
from common.kafka.messages import to_json
from common.kafka.records import PoisonMessageError
from common.tokens.ids import make_session_id
from common.tokens.signing import CheckoutClaims
from tests.unit.fakes import FakeHoldStore, FakeVerifier
from waitroomapi.events.v1 import events_pb2

TOKEN = "A" * 22
SESSION = make_session_id("concert", TOKEN)
CLAIMS = CheckoutClaims(SESSION, "concert", "user1", issued_at=1_000, expires_at=1_600)
ADMISSION = Admission(SESSION, "concert", "user1", "signed")


def service(store):
    return CheckoutService(store, FakeVerifier({"signed": CLAIMS}), 2, lambda: 1_000_000)


async def test_a_queue_ready_makes_its_hold_until_the_tokens_expiry():
    store = FakeHoldStore()
    await service(store).admit(ADMISSION, "m1")
    assert store.holds_made == [(Holder("concert", TOKEN, "user1", 1_600_000), "m1")]


@pytest.mark.parametrize(
    "admission",
    [
        Admission(SESSION, "concert", "someone-else", "signed"),
        Admission(make_session_id("concert", "B" * 22), "concert", "user1", "signed"),
        Admission(SESSION, "other", "user1", "signed"),
        Admission(SESSION, "concert", "user1", "forged"),
        Admission("not-a-session", "concert", "user1", "signed"),
    ],
)
async def test_a_queue_ready_that_does_not_match_its_token_is_poison_and_holds_nothing(
    admission,
):
    store = FakeHoldStore()
    ready = events_pb2.QueueReady(
        message_id="m1",
        session_id=admission.session_id,
        event_id=admission.event_id,
        user_id=admission.user_id,
        checkout_token=admission.checkout_token,
    )
    record = SimpleNamespace(topic=topics.QUEUE_READY, value=to_json(ready))
    with pytest.raises(PoisonMessageError):
        await CheckoutHandlers(service(store))(record)
    assert store.holds_made == []


async def test_a_queue_ready_before_its_event_is_retried_not_poison():
    with pytest.raises(UnknownEventError):
        await service(FakeHoldStore(settings_known=False)).admit(ADMISSION, "m1")


async def test_a_token_before_its_event_asks_the_buyer_to_retry():
    with pytest.raises(CatchingUpError):
        await service(FakeHoldStore(settings_known=False)).get("signed")


@pytest.mark.parametrize(
    ("refusal", "quantity", "error", "words"),
    [
        (Refusal.USED, 2, PermissionDeniedError, "already completed a purchase"),
        (Refusal.TOO_MANY, 0, FailedPreconditionError, "no ticket is free"),
        (Refusal.TOO_MANY, 2, ValueError, "at most the 2 tickets held"),
        (Refusal.SOLD_OUT, 2, FailedPreconditionError, "the hold is sold out"),
    ],
)
async def test_a_refused_purchase_says_why(refusal, quantity, error, words):
    store = FakeHoldStore(quantity=quantity, refusal=refusal)
    with pytest.raises(error, match=words):
        await service(store).purchase("signed", 3, "pay-1")
