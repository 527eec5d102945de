"""The short drill of `make test`: a Kafka broker and a Redis primary killed under a steady load,
both brought back; every invariant checked from outside with its counts (drills/)."""

import pytest

from drills import catalogue, report, run

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


async def test_a_broker_and_a_redis_primary_killed_under_load_lose_nobody(cluster_stack, tmp_path):
    result = await run.run(catalogue.SHORT)
    report.write(result, tmp_path)  # make drills keeps its results in drills/results/
    report.print_table([result])

    assert result["joined"] > 0
    assert result["admitted"] > 0
    assert report.broken(result) == []
    assert result["lost"] == 0
    assert any("kill -9 broker" in n for n in result["notes"])
    assert any("kill -9 Redis primary" in n for n in result["notes"])
