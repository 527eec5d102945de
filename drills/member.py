"""`python -m drills.member`: extra members of the services' consumer groups that take
partitions and never process or commit them, until a drill kills them (kill -9)."""

import asyncio
import sys

from aiokafka import AIOKafkaConsumer

from common.kafka import topics
from drills.cluster import KAFKA

OUTCOMES = (topics.CHECKOUT_COMPLETED, topics.CHECKOUT_EXPIRED, topics.CHECKOUT_CANCELLED)
# Each group with the topics its service subscribes to (DESIGN.md's table of topics).
GROUPS = {
    "checkout": (topics.EVENT_UPDATED, topics.QUEUE_READY),
    "waitroom": (topics.EVENT_SOLD_OUT, *OUTCOMES),
    "stats": topics.ALL,
}


async def main() -> None:
    members = [
        AIOKafkaConsumer(
            *subscribed,
            bootstrap_servers=KAFKA,
            group_id=group,
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )
        for group, subscribed in GROUPS.items()
    ]
    for member in members:
        await member.start()
    while True:
        for member in members:
            await member.getmany(timeout_ms=200)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
