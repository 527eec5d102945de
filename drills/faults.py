"""The faults: each injects one, heals it, and notes what it did; its docstring names it."""

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from drills import cluster, redisdata
from drills.run import Context


async def _kill_service(
    ctx: Context,
    name: str,
    restart_after: float = 2.0,
    ready: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """kill -9 of a service and its serving processes (once `ready` returns), then a restart."""
    service = (await cluster.status()).service(name)
    pids = [service["pid"], *cluster.children(service["pid"])]
    why = await ready() if ready is not None else ""
    for pid in pids:
        cluster.kill(pid)
    ctx.note(f"kill -9 {name} (pid {service['pid']}) and its serving processes {why}")
    await asyncio.sleep(restart_after)
    await cluster.restart_service(name)
    ctx.note(f"{name} restarted")


async def kill_waitroom_serving(ctx: Context) -> None:
    """kill -9 of one waitroom serving process (replaced by its supervisor, or restarted)"""
    service = (await cluster.status()).service("waitroom")
    workers = cluster.serving_processes(service["pid"])
    victim = workers[0] if workers else service["pid"]
    ctx.note(f"kill -9 serving process {victim} of waitroom (pid {service['pid']})")
    await cluster.kill_and_wait(victim)
    await asyncio.sleep(5)
    now = (await cluster.status()).service("waitroom")
    if now["health"] != "SERVING" or not now["pid"]:
        ctx.note(f"waitroom {now['health']} after 5 s: restarted by the drill")
        await _kill_service(ctx, "waitroom", restart_after=0)
    else:
        replaced = cluster.serving_processes(now["pid"])
        ctx.note(f"serving after 5 s, the supervisor's processes now {replaced} (was {workers})")


async def kill_processor_mid_step(ctx: Context) -> None:
    """kill -9 of a processor replica between its Redis step and its Kafka send, 3 times"""
    redis = redisdata.connect(cluster.REDIS_URL)
    try:

        async def holding() -> str:
            held = await _relay_holding(redis, ctx.event_id, "waitroom-2", within=15)
            return f"while its relay held {held} admissions from the outbox, unsent"

        for _ in range(3):
            await _kill_service(ctx, "waitroom-2", restart_after=1.0, ready=holding)
            await asyncio.sleep(3)
    finally:
        await redis.aclose()


async def _relay_holding(redis, event_id: str, instance: str, within: float) -> int:
    """Waits until the instance's relay has read outbox entries that Kafka has not yet
    acknowledged (the Redis step done, the send not): how many it holds then (0: never seen)."""
    stream = f"waitroom:{{{event_id}}}:outbox"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        with contextlib.suppress(Exception):
            pending = await redis.xpending(stream, "relay")
            for consumer in pending.get("consumers") or []:
                if str(consumer["name"]).startswith(instance) and int(consumer["pending"]) > 0:
                    return int(consumer["pending"])
        await asyncio.sleep(0.001)
    return 0


async def kill_checkout(ctx: Context) -> None:
    """kill -9 of checkout, restarted"""
    await _kill_service(ctx, "checkout")


async def kill_stats(ctx: Context) -> None:
    """kill -9 of stats, restarted"""
    await _kill_service(ctx, "stats")


async def kill_redis_primary(ctx: Context) -> None:
    """kill -9 of a Redis primary: its replica is promoted; the old primary rejoins as replica"""
    primary = (await cluster.status()).redis_primaries()[0]
    ctx.note(f"kill -9 Redis primary {primary['port']} (pid {primary['pid']})")
    await cluster.kill_and_wait(primary["pid"])
    await _until(ctx, "a replica promoted", _promoted(primary["port"]), 30)
    await cluster.start_redis_node(primary["port"])
    ctx.note(f"node {primary['port']} started again")


def _promoted(port: int):
    async def check() -> bool:
        now = await cluster.status()
        return len(now.redis_primaries()) == 3 and all(
            n["port"] != port for n in now.redis_primaries()
        )

    return check


async def _until(ctx: Context, what: str, check, within: float) -> bool:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < within:
        if await check():
            ctx.note(f"{what} after {loop.time() - started:.1f} s")
            return True
        await asyncio.sleep(0.5)
    ctx.note(f"no {what} within {within} s")
    return False


async def restart_redis_cluster(ctx: Context) -> None:
    """every Redis node killed (kill -9), the whole cluster restarted from its append-only files"""
    nodes = (await cluster.status()).redis
    ctx.note(f"kill -9 all {len(nodes)} Redis nodes")
    await asyncio.gather(*(cluster.kill_and_wait(n["pid"]) for n in nodes if n["pid"]))
    await asyncio.sleep(3)
    await cluster.redis_up()
    ctx.note("Redis Cluster up again from its AOF")


async def kill_kafka_broker(ctx: Context) -> None:
    """kill -9 of one Kafka broker (not the controller leader) under load, restarted after 10 s"""
    broker = (await cluster.status()).broker("follower")
    ctx.note(f"kill -9 broker {broker['id']} (pid {broker['pid']})")
    await cluster.kill_and_wait(broker["pid"])
    await asyncio.sleep(10)
    await cluster.start_broker(broker["id"])
    ctx.note(f"broker {broker['id']} started again")


async def move_kafka_leader(ctx: Context) -> None:
    """the controller leader stopped (SIGTERM) so leadership moves, then restarted"""
    leader = (await cluster.status()).broker("leader")
    ctx.note(f"stop controller leader broker {leader['id']} (pid {leader['pid']})")
    await cluster.kill_and_wait(leader["pid"], signal.SIGTERM, within=60)
    await asyncio.sleep(5)
    ctx.note(f"leader now {(await cluster.status()).broker('leader')['id']}")
    await cluster.start_broker(leader["id"])
    ctx.note(f"broker {leader['id']} started again")


async def all_brokers_down(ctx: Context) -> None:
    """every Kafka broker killed (kill -9) for 10 s, then all restarted"""
    brokers = (await cluster.status()).kafka
    ctx.note("kill -9 all three brokers")
    await asyncio.gather(*(cluster.kill_and_wait(b["pid"]) for b in brokers if b["pid"]))
    await asyncio.sleep(10)
    await cluster.kafka_up()
    ctx.note("brokers up again")


async def kill_broker_and_redis_primary(ctx: Context) -> None:
    """one Kafka broker and one Redis primary killed (kill -9) under load, both restarted"""
    await asyncio.gather(kill_kafka_broker(ctx), kill_redis_primary(ctx))


async def nothing(ctx: Context) -> None:
    """no fault: the steady load alone (the baseline)"""
    await asyncio.sleep(0)
