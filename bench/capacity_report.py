"""The capacity bench's table: per script, what one Redis primary did and what it could do."""

from typing import Any

HEADER = (
    f"{'script':<9}{'calls':>8}{'calls/s':>9}{'usec/call':>10}{'cpu us/call':>12}"
    f"{'ceiling/s':>11}{'cpu-bound/s':>12}{'busy':>6}{'people/call':>12}{'people/s':>10}"
)


def row(phase: dict[str, Any]) -> str:
    per_call = phase["people_per_call"]
    return (
        f"{phase['script']:<9}{phase['calls']:>8}{phase['calls_per_s']:>9.0f}"
        f"{phase['usec_per_call']:>10.1f}{phase['cpu_us_per_call']:>12.1f}"
        f"{phase['ceiling_usec']:>11.0f}{phase['ceiling_cpu']:>12.0f}{phase['redis_busy']:>6.2f}"
        f"{per_call:>12.1f}{phase['ceiling_cpu'] * per_call:>10.0f}"
    )


def table(result: dict[str, Any]) -> str:
    shape, memory = result["shape"], result["memory"]
    lines = [
        f"One event on one Redis primary ({result['versions']['redis_server']}, appendonly "
        f"everysec): {shape['people']} people, {shape['connections']} connections, pipelines "
        f"of {shape.get('pipeline', 256)}; admission: max_concurrent {shape['max_concurrent']}, "
        f"batch {shape['batch_size']}, holds ending by deadline",
        HEADER,
        *(row(p) for p in result["phases"]),
        "ceiling/s = 1e6 / usec_per_call (the scripts alone); cpu-bound/s = calls per CPU-second "
        "of the redis-server process (reading and replying too); "
        "people/s = cpu-bound/s x people/call",
        f"Memory: {memory['bytes_per_waiting']:.0f} bytes a person waiting "
        f"({memory['bytes_per_waiting_with_outbox']:.0f} with the QUEUE_JOINED outbox entry not "
        f"yet relayed), {memory['bytes_per_hold']:.0f} a hold, "
        f"{memory['stats_bytes_per_person']:.0f} of stats a person",
        f"({result['seconds']} s)",
    ]
    return "\n".join(lines)
