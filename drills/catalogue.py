"""Every drill `make drills` runs, in order; `short` is the one `make test` runs."""

from drills import chaos, faults, overload, streams
from drills.load import Shape
from drills.netfault import NetworkFault
from drills.run import Drill

NETWORK = NetworkFault()
DRILLS = (
    Drill("baseline", faults.nothing, Shape(seconds=25)),
    Drill(
        "flash-crowd",
        faults.nothing,
        Shape(seconds=20, rate=5, flash=1500),
        max_concurrent=100,
        batch=50,
    ),
    Drill("kill-waitroom-serving", faults.kill_waitroom_serving),
    Drill(
        "kill-watched-serving",
        streams.kill_watched_serving,
        Shape(seconds=40),
        fault_after=8,
        max_concurrent=2000,
        batch=5,
        hold=15,
    ),
    Drill("kill-processor", faults.kill_processor_mid_step),
    Drill("kill-checkout", faults.kill_checkout),
    Drill("kill-stats", faults.kill_stats),
    Drill("kill-redis-primary", faults.kill_redis_primary),
    Drill("restart-redis-cluster", faults.restart_redis_cluster),
    Drill("kill-kafka-broker", faults.kill_kafka_broker),
    Drill("move-kafka-leader", faults.move_kafka_leader),
    Drill("all-brokers-down", faults.all_brokers_down),
    Drill("network-fault", NETWORK, Shape(seconds=50), cleanup=NETWORK.cleanup),
    Drill("kafka-chaos", chaos.kafka_chaos, Shape(seconds=45)),
    Drill("overload", overload.overload, Shape(seconds=80)),
)
SHORT = Drill("short", faults.kill_broker_and_redis_primary, Shape(seconds=30), fault_after=8)


def named(names: list[str]) -> list[Drill]:
    every = {d.name: d for d in (*DRILLS, SHORT)}
    unknown = [n for n in names if n not in every]
    if unknown:
        raise SystemExit(f"no drill named {', '.join(unknown)}; there are: {', '.join(every)}")
    return [every[n] for n in names] if names else list(DRILLS)
