"""Hints every replica hears at once, over Redis pub/sub: "start now", never the state itself.

A hint that is lost (a replica reconnecting, Redis away) costs only latency: every replica
still does the same work at its next interval, from the state in Redis.
"""

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.process.resource import Resource
from common.redis.client import RedisClient

logger = logging.getLogger(__name__)


class Broadcast(Resource):
    def __init__(
        self,
        redis: RedisClient,
        channel: str,
        sender: str,
        reconnect_seconds: float = 1.0,
        poll_seconds: float = 1.0,
    ) -> None:
        """sender: this replica's name; a replica does not hear its own hints.
        poll_seconds: how often a quiet listener checks whether it should stop."""
        self._redis = redis
        self._channel = channel
        self._sender = sender
        self._reconnect, self._poll = reconnect_seconds, poll_seconds
        self._sending: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self.listening = asyncio.Event()  # set while subscribed

    def send(self, hint: str) -> None:
        """Publishes the hint in the background: the caller never waits for Redis."""
        task = asyncio.create_task(self._publish(f"{self._sender} {hint}"))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, message: str) -> None:
        try:
            await self._redis.publish(self._channel, message)
        except Exception as error:  # a hint lost: the others act at their next interval
            logger.warning("could not publish %r on %s: %r", message, self._channel, error)

    async def listen(self, heard: Callable[[str], None]) -> None:
        """Calls heard(hint) for every other replica's hint, until stop(); reconnects."""
        while not self._stopping.is_set():
            try:
                await self._listen(heard)
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                logger.warning("lost %s (%r); subscribing again", self._channel, error)
            except Exception:  # a cluster whose map of slots is being redrawn, say
                logger.exception("could not listen on %s; subscribing again", self._channel)
            finally:
                self.listening.clear()
            if not self._stopping.is_set():
                await asyncio.sleep(self._reconnect)

    async def _listen(self, heard: Callable[[str], None]) -> None:
        if isinstance(self._redis, RedisCluster):
            # a cluster's pub/sub connects to the node its channel's slot maps to: the client
            # must know the map first (and redraws it after a node it used went away)
            await self._redis.initialize()
        async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self._channel)
            self.listening.set()
            while not self._stopping.is_set():
                message = await pubsub.get_message(timeout=self._poll)
                if message is None:
                    continue
                sender, _, hint = str(message["data"]).partition(" ")
                if sender != self._sender and hint:
                    try:
                        heard(hint)
                    except Exception:  # one bad hint must not end the subscription
                        logger.exception("could not act on %r from %s", hint, sender)

    async def start(self) -> None:
        """Nothing to open: listen() subscribes, and send() needs only the client."""

    async def stop(self) -> None:
        """Ends listen() within poll_seconds and lets the hints in flight go out."""
        self._stopping.set()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
