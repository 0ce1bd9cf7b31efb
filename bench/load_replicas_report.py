"""bench.load_replicas' lines: one per round, then the medians per replica count and their ratio."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

Result = dict[str, Any]


def turns(r: Result) -> int:
    return int(r["messages"])


def turns_per_second(r: Result) -> float:
    return turns(r) / r["all_replies_s"] if r["all_replies_s"] > 0 else 0.0


def cpu_ms_per_turn(r: Result) -> float:
    return sum(r["cpu_s"]) / turns(r) * 1000


def postgres_ms_per_turn(r: Result) -> float:
    return float(r["postgres_cpu_s"]) / turns(r) * 1000


def transactions_per_turn(r: Result) -> float:
    database = r["database"]
    return float(database["xact_commit"] + database["xact_rollback"]) / turns(r)


def _numbers(values: list[float], digits: int = 0) -> str:
    return "/".join(f"{value:.{digits}f}" for value in values)


def show_round(number: int, r: Result) -> None:
    print(
        f"round {number}, {r['replicas']} replica(s): {r['messages']} messages -> "
        f"{r['final_replies']} final replies, {r['problem_count']} threads wrong "
        f"({r['misordered']} only in order); all replies "
        f"{r['all_replies_s']:.2f} s ({turns_per_second(r):.0f} turns/s; Slack "
        f"{r['all_slack_s']:.2f}, Discord {r['all_discord_s']:.2f}); replica CPU "
        f"{_numbers(r['cpu_s'], 1)} s = {sum(r['cpu_s']):.1f} s ({r['system_cpu_s']:.1f} s in the "
        f"kernel), {cpu_ms_per_turn(r):.1f} ms per turn; PostgreSQL CPU "
        f"{r['postgres_cpu_s']:.1f} s "
        f"({postgres_ms_per_turn(r):.1f} ms per turn); peak RSS {_numbers(r['peak_rss_mb'])} MB "
        f"(from {_numbers(r['rss_before_mb'])}); {transactions_per_turn(r):.1f} transactions "
        f"per turn; database {r['database']['size'] / 1e6:.1f} MB; replies written by "
        f"{_numbers(list(r['database']['replies'].values()))}",
        flush=True,
    )
    lost_or_doubled = r["problem_count"] - r["misordered"]
    for number, problem in enumerate(r["problems"]):
        # Those come first and are shown whole: which message, and what stood there instead.
        print("   ", problem if number < lost_or_doubled else problem[:300])


def _median(results: list[Result], measure: Callable[[Result], float]) -> float:
    return float(statistics.median(measure(r) for r in results))


def show_medians(by_count: dict[int, list[Result]]) -> None:
    for count, results in by_count.items():
        peaks = [max(r["peak_rss_mb"]) for r in results]
        print(
            f"{count} replica(s), median of {len(results)} rounds: all replies "
            f"{_median(results, lambda r: r['all_replies_s']):.2f} s, "
            f"{_median(results, turns_per_second):.0f} turns/s, replica CPU "
            f"{_median(results, lambda r: sum(r['cpu_s'])):.1f} s "
            f"({_median(results, cpu_ms_per_turn):.2f} ms per turn, of which in the kernel "
            f"{_median(results, lambda r: r['system_cpu_s'] / turns(r) * 1000):.2f}), PostgreSQL "
            f"{_median(results, postgres_ms_per_turn):.2f} ms per turn, highest peak RSS of a "
            f"replica {statistics.median(peaks):.0f} MB, "
            f"{_median(results, transactions_per_turn):.1f} transactions per turn, "
            f"threads wrong {sum(r['problem_count'] for r in results)} "
            f"({sum(r['misordered'] for r in results)} only in order)",
            flush=True,
        )
    fewest, most = min(by_count), max(by_count)
    if fewest != most:
        fewer = _median(by_count[fewest], cpu_ms_per_turn)
        ratio = _median(by_count[most], cpu_ms_per_turn) / fewer
        # Rounds alternate between the counts, so round k of each ran under the same
        # neighbours: the ratio within each such pair is steadier than the medians' ratio.
        pairs = zip(by_count[most], by_count[fewest], strict=False)
        paired = [cpu_ms_per_turn(more) / cpu_ms_per_turn(one) for more, one in pairs]
        print(
            f"replica CPU per turn, {most} replicas / {fewest}: {ratio:.2f}x (ratio of the "
            f"medians); round by round {_numbers(paired, 2)}, median "
            f"{statistics.median(paired):.2f}x (issue 13 allows 1.15x)",
            flush=True,
        )


def show_statements(by_count: dict[int, list[Result]], top: int = 15) -> None:
    """Each SQL statement the replicas sent per turn (the median over rounds), most first."""
    for count, results in by_count.items():
        names = {name for r in results for name in r["statements"]}
        per_turn = {name: _median(results, _per_turn_of(name)) for name in names}
        total = _median(results, lambda r: sum(r["statements"].values()) / turns(r))
        print(f"{count} replica(s): {total:.2f} statements per turn; the most sent:")
        for name, each in sorted(per_turn.items(), key=lambda item: -item[1])[:top]:
            print(f"  {each:6.2f}  {name}")


def _per_turn_of(statement: str) -> Callable[[Result], float]:
    return lambda r: float(r["statements"].get(statement, 0)) / turns(r)
