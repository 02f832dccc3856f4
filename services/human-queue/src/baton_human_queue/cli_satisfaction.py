"""``baton-queue satisfaction``: the users' ratings (CSAT), straight from MongoDB.

    baton-queue satisfaction [--since 2026-03-01T00:00:00Z] [--until ...] [--json]

The same report as ``GET /v1/admin/satisfaction``: one line per scope (overall, the AI,
people, each agent, each department) with the count, average, CSAT and the scores.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import utc_now
from baton_runtime import Document

from .satisfaction import SatisfactionReport, Tally, satisfaction_report
from .store.ratings import MongoRatings


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date-time: {value!r}") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} needs its offset, e.g. Z or +01:00")
    return moment


def add_satisfaction_command(commands: Any) -> None:
    report = commands.add_parser(
        "satisfaction", help="the users' ratings: per agent, department, AI and people"
    )
    report.add_argument("--since", type=_moment, help="start (default: a week before --until)")
    report.add_argument("--until", type=_moment, help="end, excluded (default: now)")
    report.add_argument("--json", action="store_true", help="the report as one JSON object")


def _line(scope: str, name: str, tally: Tally) -> str:
    average = f"{tally.average:.2f}" if tally.average is not None else "-"
    csat = f"{tally.csat:.0%}" if tally.csat is not None else "-"
    scores = " ".join(f"{score}:{n}" for score, n in tally.distribution.items())
    return "\t".join([scope, name, str(tally.count), average, csat, scores])


def lines(report: SatisfactionReport) -> list[str]:
    """The report as text: scope, name, ratings, average, CSAT, ratings per score."""
    found = [
        "\t".join(["scope", "name", "ratings", "average", "csat", "scores"]),
        _line("overall", "", report.overall),
        _line("resolved_by", "ai", report.resolved_by.ai),
        _line("resolved_by", "human", report.resolved_by.human),
    ]
    found += [_line("agent", f"{a.agent_name} ({a.agent_id})", a) for a in report.agents]
    found += [_line("department", d.department or "(none)", d) for d in report.departments]
    return found


async def run_satisfaction(args: argparse.Namespace, db: AsyncDatabase[Document]) -> int:
    until = args.until or utc_now()
    since = args.since or until - timedelta(days=7)
    if since >= until:
        print("baton-queue: --since must be before --until", file=sys.stderr)
        return 2
    ratings = await MongoRatings(db).between(since, until)
    report = satisfaction_report(ratings, since=since, until=until)
    if args.json:
        print(report.model_dump_json())
    else:
        print("\n".join(lines(report)))
    return 0
