"""Streamed replies: how soon the first words of a reply reach a gateway, against how soon
the whole reply does, with the scripted model writing as a real one does.

The model's first token comes after a lognormal latency (a median of half a second and a
tail of seconds), then its tokens at a steady pace (60 a second by default, four
characters each); the reply is a support answer of about 500 characters, written after its
decision fields. The ai-responder streams it (no approval topics, no token limit, decision
19). A watcher of ``message.delta`` and ``message.sent``, as a gateway's, notes when the
first delta of each reply and the reply itself arrive, from ingest's accept of the user
message; and checks that each reply's deltas make up its text.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from baton_contracts import MessageDelta, MessageSent, topics
from baton_scripted_model import LognormalLatency
from baton_testkit import LocalStack, Seen, follow_topics, open_loop, post_message

from .accounting import TIMEOUT
from .phases import Measure
from .regimes import running, say
from .stats import percentile
from .stored import Mongo

QUESTION = "How long does shipping take, and how can I follow my parcel?"
ANSWER = (
    "Thanks for asking! Standard shipping within Germany takes 2-3 business days, and "
    "express orders placed before 14:00 arrive the next business day. For other EU "
    "countries, please allow 4-6 business days. As soon as your parcel leaves our "
    "warehouse, you get an email with a tracking link, and you can also follow it under "
    "'My orders' in your account. If it has not arrived within a week, just reply here with "
    "your order number and we will check with the carrier straight away. Is there anything "
    "else I can help you with?"
)
"""A support answer of a usual length (about 500 characters, 125 tokens)."""
CHARS_PER_TOKEN = 4


@dataclass
class Heard:
    """What a gateway following both topics saw of each user message's reply."""

    accepted_at: dict[uuid.UUID, float] = field(default_factory=dict)
    first_delta_at: dict[uuid.UUID, float] = field(default_factory=dict)
    sent_at: dict[uuid.UUID, float] = field(default_factory=dict)
    texts: dict[uuid.UUID, str] = field(default_factory=dict)
    pieces: dict[uuid.UUID, dict[int, str]] = field(default_factory=dict)
    """The latest attempt's pieces of each reply, by sequence."""
    deltas: dict[uuid.UUID, int] = field(default_factory=dict)
    """Delta records of each reply."""

    def note(self, seen: Seen) -> None:
        event = seen.event
        if isinstance(event, MessageDelta) and event.in_reply_to is not None:
            asked = event.in_reply_to
            self.first_delta_at.setdefault(asked, seen.seen_at)
            self.deltas[asked] = self.deltas.get(asked, 0) + 1
            pieces = self.pieces.setdefault(asked, {})
            if event.sequence == 0:
                pieces.clear()  # a new attempt starts over
            pieces[event.sequence] = event.text
        elif isinstance(event, MessageSent) and event.in_reply_to is not None:
            self.sent_at.setdefault(event.in_reply_to, seen.seen_at)
            self.texts.setdefault(event.in_reply_to, event.text)

    def answered(self) -> list[uuid.UUID]:
        return [m for m in self.accepted_at if m in self.sent_at]

    def reassembled(self, asked: uuid.UUID) -> bool:
        pieces = self.pieces.get(asked, {})
        ordered = [pieces[n] for n in range(len(pieces)) if n in pieces]
        return len(ordered) == len(pieces) and "".join(ordered) == self.texts.get(asked)


def _ms(values: list[float]) -> dict[str, float]:
    return {f"p{q}": percentile(values, q) * 1000 for q in (50, 90, 99)} | {
        "max": max(values, default=float("nan")) * 1000
    }


def streaming_figures(heard: Heard) -> dict[str, Any]:
    """Time to the first delta against time to the whole reply, from ingest's accept; and
    how the deltas of each reply came out."""
    answered = heard.answered()
    streamed = [m for m in answered if m in heard.first_delta_at]
    first = [heard.first_delta_at[m] - heard.accepted_at[m] for m in streamed]
    whole = [heard.sent_at[m] - heard.accepted_at[m] for m in answered]
    ahead = [heard.sent_at[m] - heard.first_delta_at[m] for m in streamed]
    deltas = [float(heard.deltas[m]) for m in streamed]
    return {
        "accepted": len(heard.accepted_at),
        "replied": len(answered),
        "streamed": len(streamed),
        "reassembled": sum(1 for m in streamed if heard.reassembled(m)),
        "time_to_first_delta_ms": _ms(first),
        "time_to_whole_reply_ms": _ms(whole),
        "first_delta_ahead_of_whole_ms": _ms(ahead),
        "deltas_per_reply": {
            "p50": percentile(deltas, 50),
            "max": max(deltas, default=float("nan")),
        },
        "reply_chars": len(ANSWER),
    }


@dataclass(frozen=True)
class StreamingModel:
    """The scripted model's pace in this phase."""

    tokens_per_s: float
    first_token_median_ms: float
    first_token_p99_ms: float
    seed: int

    def env(self) -> dict[str, str]:
        return {
            "SCRIPTED_MODEL_STREAM_TOKENS_PER_S": str(self.tokens_per_s),
            "SCRIPTED_MODEL_LATENCY_MEDIAN_MS": str(self.first_token_median_ms),
            "SCRIPTED_MODEL_LATENCY_P99_MS": str(self.first_token_p99_ms),
            "SCRIPTED_MODEL_LATENCY_SEED": str(self.seed),
        }

    def gap_s(self) -> float:
        """A conversation's pause between messages: past nearly every reply's end (a first
        token at the lognormal's p99.9, the decision fields and the answer at the pace)."""
        first = LognormalLatency(self.first_token_median_ms, self.first_token_p99_ms)
        tokens = (len(ANSWER) + 100) / CHARS_PER_TOKEN
        return first.quantile_ms(0.999) / 1000 + tokens / self.tokens_per_s + 1.0

    def describe(self) -> dict[str, Any]:
        return {
            "tokens_per_s": self.tokens_per_s,
            "chars_per_token": CHARS_PER_TOKEN,
            "first_token_median_ms": self.first_token_median_ms,
            "first_token_p99_ms": self.first_token_p99_ms,
            "seed": self.seed,
        }


def streaming_overrides(model: StreamingModel, args: argparse.Namespace) -> dict[str, str]:
    """The regime's settings: the model's pace, and an ai-responder that streams."""
    return {
        **model.env(),
        # Replies stream only where nothing judged on their whole text can hold them back.
        "AI_RESPONDER_APPROVAL_TOPICS": "",
        "AI_RESPONDER_REVIEW_TOKEN_THRESHOLD": "0",
        "AI_RESPONDER_STREAM": "true",
        "AI_RESPONDER_LLM_MAX_CONCURRENT": str(args.llm_max_concurrent),
    }


async def streaming(
    stack: LocalStack, mongo: Mongo, args: argparse.Namespace, results: dict[str, Any]
) -> None:
    """The streaming phase, on a system of its own."""
    model = StreamingModel(
        tokens_per_s=args.stream_tokens_per_s,
        first_token_median_ms=args.stream_first_token_median_ms,
        first_token_p99_ms=args.stream_first_token_p99_ms,
        seed=args.seed,
    )
    say(f"streamed replies at {model.tokens_per_s:g} tokens/s ...")
    overrides = streaming_overrides(model, args)
    async with running(stack, mongo, args, regime="streaming", overrides=overrides) as measure:
        results["streaming"] = await streamed_replies(
            measure,
            model,
            rate=args.stream_rate,
            seconds=args.seconds,
            within=args.model_patience,
        )


async def streamed_replies(
    measure: Measure, model: StreamingModel, *, rate: float, seconds: float, within: float
) -> dict[str, Any]:
    """``seconds`` of questions at ``rate`` msg/s (after a few unmeasured), each answered
    by a streamed reply; the figures of :func:`streaming_figures`."""
    token = f"stream{uuid.uuid4().hex[:10]}"
    model_url = measure.system.programs["scripted-model"].url
    async with aiohttp.ClientSession(base_url=model_url, timeout=TIMEOUT) as client:
        await _script(client, token)
    threads = await measure.spread(rate, model.gap_s())
    prefix = measure.prefix
    names = [f"{prefix}{topics.MESSAGE_DELTA}", f"{prefix}{topics.MESSAGE_SENT}"]
    for measured, duration in ((False, min(5.0, seconds)), (True, seconds)):
        heard = Heard()
        async with follow_topics(
            measure.system.stack.kafka, names, heard.note, from_start=False, group="streams"
        ):
            print(
                f"    {'measured' if measured else 'warm-up'}: {rate:g} msg/s on "
                f"{len(threads)} conversations, {duration:.0f} s ...",
                file=sys.stderr,
            )

            async def ask(index: int, heard: Heard = heard) -> None:
                started = time.time()
                asked = await post_message(
                    measure.client, threads[index % len(threads)], f"{QUESTION} {token}"
                )
                if asked is not None:
                    heard.accepted_at[asked] = started

            await open_loop(rate, duration, ask)
            await _answered(heard, within)
    return {
        "rate_per_second": rate,
        "conversations": len(threads),
        "model": model.describe(),
        **streaming_figures(heard),
    }


async def _script(client: aiohttp.ClientSession, token: str) -> None:
    rule = {
        "name": "bench-streamed",
        "match": {"last_user": token, "schema": "assistant_reply"},
        # Decision fields first, as a model under strict structured output writes them.
        "respond": {
            "json": {
                "confidence": 0.92,
                "requires_human": False,
                "reason": None,
                "reply": ANSWER,
            }
        },
    }
    async with client.post("/_script", json=[rule]) as response:
        response.raise_for_status()


async def _answered(heard: Heard, within: float) -> None:
    deadline = time.time() + within
    while time.time() < deadline:
        if len(heard.answered()) >= len(heard.accepted_at):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # a last delta, on the other topic, may come just after


def streaming_line(results: dict[str, Any]) -> str | None:
    """The streaming phase's figures, one line."""
    found = results.get("streaming")
    if not found:
        return None
    model = found["model"]
    first, whole = found["time_to_first_delta_ms"], found["time_to_whole_reply_ms"]

    def ms(figures: dict[str, float]) -> str:
        return "/".join(f"{figures[q]:.0f}" for q in ("p50", "p90", "p99")) + " ms"

    return (
        f"streaming at {found['rate_per_second']:g} msg/s, {model['tokens_per_s']:g} tokens/s "
        f"after a first token of {model['first_token_median_ms']:.0f} ms median: first delta "
        f"p50/p90/p99 {ms(first)}, whole reply {ms(whole)}; "
        f"{found['streamed']}/{found['replied']} replies streamed, "
        f"{found['reassembled']} reassembled exactly, "
        f"{found['deltas_per_reply']['p50']:.0f} deltas per reply (p50)"
    )
