"""`python -m drills [NAME...]` (make drills): runs the drills, writes their JSON, prints a table.

Exits 1 when any drill broke an invariant. `--table [NAME...]`: the table of the results on disk.
"""

import asyncio
import json
import sys

from drills import catalogue, report, run


def table_of_files(names: list[str]) -> int:
    """The table of the results on disk, in the catalogue's order (`--table [NAME...]`)."""
    drills = catalogue.named(names)
    found = [report.RESULTS / f"{d.name}.json" for d in drills]
    results = [json.loads(path.read_text()) for path in found if path.exists()]
    report.print_table(results)
    return 0 if all(r["ok"] for r in results) else 1


async def main(names: list[str]) -> int:
    if names[:1] == ["--table"]:
        return table_of_files(names[1:])
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
