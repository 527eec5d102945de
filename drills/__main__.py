"""`python -m drills [NAME...]` (make drills): runs the drills, writes their JSON, prints a table.

Exits 1 when any drill broke an invariant.
"""

import asyncio
import sys

from drills import catalogue, report, run


async def main(names: list[str]) -> int:
    results = []
    for drill in catalogue.named(names):
        print(f"[drills] {drill.name}: {drill.fault.__doc__}", flush=True)
        result = await run.run(drill)
        print(f"[drills] {drill.name}: wrote {report.write(result)}", flush=True)
        results.append(result)
    report.print_table(results)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
