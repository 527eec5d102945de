"""The stats service as an operator reads it, through grpcurl, while a sale runs."""

import time

from tests.e2e.conftest import GrpcError, grpcurl

JOIN = "waitroom.v1.WaitroomService/JoinQueue"
CREATE = "waitroom.v1.AdminService/CreateEvent"
STATS = "stats.v1.StatsService/GetEventStats"


def test_stats_count_a_sale_as_it_happens(event_id):
    grpcurl(
        CREATE,
        {
            "event_id": event_id,
            "max_concurrent": 5,
            "batch_size": 5,
            "checkout_ttl_seconds": 300,
            "tickets": 40,
        },
        admin=True,
    )
    for i in range(12):
        grpcurl(JOIN, {"user_id": f"fan{i}", "event_id": event_id})
    figures: dict = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            figures = grpcurl(STATS, {"event_id": event_id}, port=50053)
        except GrpcError as error:
            # stats learns of the event from Kafka; until its first message arrives it says NotFound
            if "NotFound" not in str(error):
                raise
            time.sleep(0.5)
            continue
        if figures.get("joined") == "12" and figures.get("admitted") == "5":
            break
        time.sleep(0.5)
    # grpcurl prints 64-bit integers as strings and leaves out zero values
    assert (figures["joined"], figures["admitted"], figures["queued_now"]) == ("12", "5", "7")
    assert (figures["in_checkout_now"], figures["tickets_total"]) == ("5", "40")
    assert figures["wait_seconds"]["p50"] >= 0
    pool = grpcurl("stats.v1.StatsService/GetQueueStats", {}, port=50053)
    assert (pool["capacity"], pool["workers_running"]) == (100, 3)
    assert int(pool["processed"]) > 0
