"""The running stack as a user meets it: grpcurl, the JWKS, Kafka's console consumer."""

import os
import signal
import subprocess
import time

import pytest
import redis

from common.tokens.signing import TokenVerifier
from tests.e2e.conftest import ROOT, GrpcError, grpcurl, jwks, wait_for_messages

JOIN = "waitroom.v1.WaitroomService/JoinQueue"
STATUS = "waitroom.v1.WaitroomService/GetQueueStatus"
CREATE = "waitroom.v1.AdminService/CreateEvent"


def ready_for(event_id):
    return lambda m: m.get("event_id") == event_id


def test_the_readme_walkthrough_admits_user1_with_a_token_that_verifies():
    joined = grpcurl(JOIN, {"user_id": "user1", "event_id": "concert-2024"})
    session_id = joined["session_id"]
    status = {}
    for _ in range(40):
        status = grpcurl(STATUS, {"session_id": session_id})
        if status["status"] != "SESSION_STATUS_QUEUED":
            break
        time.sleep(0.25)
    assert status["status"] == "SESSION_STATUS_ADMITTED"
    claims = TokenVerifier(jwks()).verify(status["checkout_token"])
    assert (claims.session_id, claims.user_id, claims.event_id) == (
        session_id,
        "user1",
        "concert-2024",
    )
    ready = wait_for_messages("QUEUE_READY", lambda m: m.get("session_id") == session_id, 1)
    assert ready[0]["checkout_token"] == status["checkout_token"]


def test_every_admission_reaches_queue_ready_in_join_order(event_id):
    grpcurl(CREATE, {"event_id": event_id, "max_concurrent": 100, "batch_size": 6}, admin=True)
    sessions = [
        grpcurl(JOIN, {"user_id": f"fan{i}", "event_id": event_id})["session_id"] for i in range(25)
    ]
    ready = wait_for_messages("QUEUE_READY", ready_for(event_id), 25)
    first = {}
    for message in ready:
        first.setdefault(message["session_id"], message)
    assert set(first) == set(sessions)
    admitted_order = sorted(first.values(), key=lambda m: (m["admitted_at"], m["join_sequence"]))
    assert [m["session_id"] for m in admitted_order] == sessions
    verifier = TokenVerifier(jwks())
    for message in first.values():
        assert verifier.verify(message["checkout_token"]).session_id == message["session_id"]


def test_bad_input_gets_a_clear_status_from_grpcurl(event_id):
    cases = [
        ({"user_id": "", "event_id": "concert-2024"}, "InvalidArgument"),
        ({"user_id": "x" * 200, "event_id": "concert-2024"}, "InvalidArgument"),
        ({"user_id": "u1", "event_id": event_id}, "NotFound"),
    ]
    for data, code in cases:
        with pytest.raises(GrpcError, match=f"Code: {code}"):
            grpcurl(JOIN, data)
    with pytest.raises(GrpcError, match="Code: Unauthenticated"):
        grpcurl(CREATE, {"event_id": event_id})


def test_two_processors_at_once_keep_the_limit_and_admit_each_person_once(event_id, replicas):
    env = {
        "REDIS_URL": "redis://127.0.0.1:6379/2"
    }  # their own keys: the stack's processor stays out
    first = replicas(WAITROOM_INSTANCE_ID="drill-a", **env).start()
    replicas(WAITROOM_INSTANCE_ID="drill-b", **env).start()
    grpcurl(
        CREATE,
        {"event_id": event_id, "max_concurrent": 3, "batch_size": 3, "checkout_ttl_seconds": 1},
        first.port,
        admin=True,
    )
    sessions = {
        grpcurl(JOIN, {"user_id": f"fan{i}", "event_id": event_id}, first.port)["session_id"]
        for i in range(30)
    }
    db = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    most, deadline = 0, time.monotonic() + 90
    while time.monotonic() < deadline:
        in_checkout = db.zcard(f"waitroom:{{{event_id}}}:processing")
        most = max(most, in_checkout)
        if in_checkout == 0 and db.hget(f"waitroom:{{{event_id}}}:config", "waiting") == "0":
            break
        time.sleep(0.01)
    assert 0 < most <= 3
    ready = wait_for_messages("QUEUE_READY", ready_for(event_id), 30)
    admissions = {(m["session_id"], m["admitted_at"]) for m in ready}
    assert {s for s, _ in admissions} == sessions
    assert len(admissions) == 30  # a session relayed twice carries the same admission


def test_a_processor_killed_between_redis_and_kafka_still_gets_queue_ready_out(event_id, replicas):
    env = {
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "QUEUE_OUTBOX_CLAIM_IDLE": "1s",
        "KAFKA_SEND_TIMEOUT": "30s",
    }
    doomed = replicas(WAITROOM_INSTANCE_ID="doomed", **env).start()
    grpcurl(
        CREATE,
        {"event_id": event_id, "max_concurrent": 50, "batch_size": 50},
        doomed.port,
        admin=True,
    )
    broker = kafka_pid()
    db = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    os.kill(broker, signal.SIGSTOP)  # Kafka stops answering: admissions stay in the outbox
    try:
        sessions = {
            grpcurl(JOIN, {"user_id": f"fan{i}", "event_id": event_id}, doomed.port)["session_id"]
            for i in range(10)
        }
        deadline = time.monotonic() + 30
        while db.zcard(f"waitroom:{{{event_id}}}:processing") < 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert db.zcard(f"waitroom:{{{event_id}}}:processing") == 10  # admitted in Redis
        doomed.kill(signal.SIGKILL)  # ... and the process dies before Kafka acknowledged
    finally:
        os.kill(broker, signal.SIGCONT)
    # Nothing was acknowledged: the admissions are still in the outbox for a successor.
    assert db.xlen(f"waitroom:{{{event_id}}}:outbox") >= 20
    replicas(WAITROOM_INSTANCE_ID="successor", **env).start()
    ready = wait_for_messages("QUEUE_READY", ready_for(event_id), 10)
    assert {m["session_id"] for m in ready} == sessions


def kafka_pid() -> int:
    pid_file = ROOT / ".cache/dev/kafka/kafka.pid"
    if pid_file.exists():
        return int(pid_file.read_text().strip())
    found = subprocess.run(["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True)
    return int(found.stdout.split()[0])


def test_sigterm_drains_and_exits_cleanly(replicas):
    replica = replicas(WAITROOM_INSTANCE_ID="drained", REDIS_URL="redis://127.0.0.1:6379/4").start()
    replica.kill(signal.SIGTERM)
    assert replica.process.returncode == 0
    log = replica.log.read_text()
    assert "queue processor stopped" in log
    assert "waitroom stopped" in log
