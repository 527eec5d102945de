"""The closed loop as a buyer meets it: grpcurl against waitroom and checkout, Kafka's console."""

import os
import re
import signal
import subprocess
import time

import pytest
import redis

from tests.e2e.conftest import ROOT, GrpcError, grpcurl, wait_for_messages

JOIN = "waitroom.v1.WaitroomService/JoinQueue"
STATUS = "waitroom.v1.WaitroomService/GetQueueStatus"
CREATE = "waitroom.v1.AdminService/CreateEvent"
GET = "checkout.v1.CheckoutService/GetCheckout"
BUY = "checkout.v1.CheckoutService/CompletePurchase"
DOWN = "Unavailable|Failed to dial"  # refused, or timed out while the process is gone


def admitted(session_id: str, within: float = 60) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = grpcurl(STATUS, {"session_id": session_id})
        if status["status"] != "SESSION_STATUS_QUEUED":
            return status
        time.sleep(0.3)
    raise AssertionError(f"{session_id} was not admitted within {within}s")


def final_status(session_id: str, wanted: str, within: float = 30) -> str:
    deadline = time.monotonic() + within
    status = ""
    while time.monotonic() < deadline:
        status = grpcurl(STATUS, {"session_id": session_id})["status"]
        if status == wanted:
            break
        time.sleep(0.3)
    return status


def test_the_buyers_walkthrough(event_id):
    grpcurl(CREATE, {"event_id": event_id, "tickets": 10}, admin=True)
    session_id = grpcurl(JOIN, {"user_id": "buyer1", "event_id": event_id})["session_id"]
    token = admitted(session_id)["checkout_token"]
    hold = get_checkout(token)
    assert (hold["status"], hold["quantity"]) == ("HOLD_STATUS_HELD", 4)
    order = grpcurl(
        BUY, {"checkout_token": token, "quantity": 2, "payment_reference": "pay-1"}, port=50052
    )
    again = grpcurl(
        BUY, {"checkout_token": token, "quantity": 2, "payment_reference": "pay-1"}, port=50052
    )
    assert again["order_id"] == order["order_id"]
    with pytest.raises(GrpcError, match="PermissionDenied"):
        grpcurl(
            BUY, {"checkout_token": token, "quantity": 1, "payment_reference": "pay-2"}, port=50052
        )
    completed = wait_for_messages(
        "CHECKOUT_COMPLETED", lambda m: m.get("session_id") == session_id, 1
    )
    assert (completed[0]["order_id"], completed[0]["quantity"]) == (order["order_id"], 2)
    assert final_status(session_id, "SESSION_STATUS_COMPLETED") == "SESSION_STATUS_COMPLETED"


def get_checkout(token: str) -> dict:
    """The hold; checkout may take a moment to learn a new event (UNAVAILABLE meanwhile)."""
    for _ in range(30):
        try:
            return grpcurl(GET, {"checkout_token": token}, port=50052)
        except GrpcError as error:
            if "Unavailable" not in str(error):
                raise
            time.sleep(0.3)
    raise AssertionError("checkout never learned the event")


def test_checkout_killed_mid_sale_loses_no_purchase_and_frees_no_slot_twice(event_id):
    grpcurl(
        CREATE,
        {
            "event_id": event_id,
            "max_concurrent": 4,
            "batch_size": 4,
            "checkout_ttl_seconds": 60,
            "tickets": 100,
        },
        admin=True,
    )
    sessions = [
        grpcurl(JOIN, {"user_id": f"fan{i}", "event_id": event_id})["session_id"] for i in range(12)
    ]
    db = redis.Redis(decode_responses=True)
    processing = f"waitroom:{{{event_id}}}:processing"
    orders: dict[str, str] = {}
    most = 0
    for n, session_id in enumerate(sessions):
        token = admitted(session_id)["checkout_token"]
        most = max(most, db.zcard(processing))
        if n == 5:
            kill_checkout()
            with pytest.raises(GrpcError, match=DOWN):
                grpcurl(
                    BUY,
                    {
                        "checkout_token": token,
                        "quantity": 1,
                        "payment_reference": f"pay-{session_id}",
                    },
                    port=50052,
                )
            subprocess.run(
                [str(ROOT / "scripts/stack.sh"), "up"], check=True, capture_output=True, timeout=120
            )
        orders[session_id] = buy(token, f"pay-{session_id}")
        most = max(most, db.zcard(processing))

    completed = wait_for_messages(
        "CHECKOUT_COMPLETED", lambda m: m.get("event_id") == event_id, len(sessions)
    )
    published = {m["session_id"]: m["order_id"] for m in completed}
    assert published == orders  # every purchase made it out, with the order the buyer got
    statuses = [final_status(s, "SESSION_STATUS_COMPLETED") for s in sessions]
    assert set(statuses) == {"SESSION_STATUS_COMPLETED"}
    assert most <= 4
    assert db.zcard(processing) == 0  # every slot freed, none freed twice into a negative


def buy(token: str, payment_reference: str) -> str:
    """A buyer retries through a restart with the same payment reference."""
    for _ in range(60):
        try:
            return grpcurl(
                BUY,
                {"checkout_token": token, "quantity": 1, "payment_reference": payment_reference},
                port=50052,
            )["order_id"]
        except GrpcError as error:
            if not re.search(DOWN, str(error)):
                raise
            time.sleep(0.5)
    raise AssertionError("checkout did not come back")


def kill_checkout() -> None:
    pid = int((ROOT / "var/run/checkout.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
