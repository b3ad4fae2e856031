"""One sync cycle outside Dagster (`bitrix-warehouse sync`, `backfill`, `demo`): extract → load
→ build → publish, each step timed. Dagster runs the same steps as assets."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestration import bi, ingest, transform
from orchestration.settings import Settings


@dataclass
class Cycle:
    run: ingest.RunResult
    seconds: dict[str, float] = field(default_factory=dict)
    published: bi.Published | None = None


def finish(
    settings: Settings, run: ingest.RunResult, echo: Callable[[str], None] | None = None
) -> Cycle:
    """Build the marts after a load and publish them; `echo` shows progress."""
    cycle = Cycle(run, dict(run.seconds))
    say = echo or (lambda _: None)
    say("Building the marts (dbt build)…")
    started = time.perf_counter()
    transform.build(settings)
    cycle.seconds["transform"] = time.perf_counter() - started
    say(f"Publishing the BI copy to {settings.bi_path}…")
    cycle.published = bi.publish(settings)
    cycle.seconds["publish"] = cycle.published.seconds
    return cycle


def describe(cycle: Cycle) -> str:
    loaded = ", ".join(f"{t} {n:,}" for t, n in sorted(cycle.run.rows.items()) if n)
    steps = ", ".join(f"{step} {s:.1f} s" for step, s in cycle.seconds.items())
    return f"Loaded: {loaded or 'nothing new'}\nSteps: {steps}"
