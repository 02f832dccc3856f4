"""Requests as gateways make them, over the in-memory conversation core: ownership, the
key's rules, and rate limits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from baton_conversations import UnknownThreadError
from baton_ingest.domain import NewThread, Submission, UserMismatchError
from baton_ingest.front import Front
from baton_ingest.gateways import (
    ChannelNotAllowedError,
    Gateway,
    IdentityRequiredError,
    InvalidIdentityError,
    RoutingNotAllowedError,
    identity_hash,
)
from baton_ingest.inputs import InvalidIdError, InvalidMetadataError
from baton_ingest.limits import RateLimitedError, RateLimits, TokenBuckets
from baton_ingest.registry import Gateways
from baton_ingest.usecases import Ingest
from tests.support.ingest_memory import MemoryGateways
from tests.support.memory import MemoryConversations


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    front: Front
    conversations: MemoryConversations
    web: Gateway
    mail: Gateway
    clock: Clock


@pytest.fixture
async def setup() -> Setup:
    conversations = MemoryConversations()
    clock = Clock()
    limits = RateLimits(
        per_key=TokenBuckets(rate=1, burst=20, tracked=100, clock=clock),
        per_user=TokenBuckets(rate=1, burst=5, tracked=100, clock=clock),
    )
    front = Front(
        ingest=Ingest(conversations=conversations, max_text_length=100),
        conversations=conversations,
        limits=limits,
    )
    gateways = Gateways(MemoryGateways())
    web = (await gateways.create("web", ["web"], may_set_routing=True)).gateway
    mail = (await gateways.create("mail", ["email"])).gateway
    return Setup(front, conversations, web, mail, clock)


async def test_a_thread_belongs_to_the_gateway_that_opened_it(setup: Setup) -> None:
    front = setup.front
    thread = await front.open_thread(setup.web, NewThread(user_id="u1", metadata={"tier": "vip"}))
    assert (thread.gateway_id, thread.channel, thread.user_tier) == (
        setup.web.gateway_id,
        "web",
        "vip",
    )

    await front.submit(setup.web, Submission(thread_id=thread.thread_id, text="hi"))
    assert [m.text for m in await front.messages(setup.web, thread.thread_id, limit=10)] == ["hi"]

    for other in (
        front.thread(setup.mail, thread.thread_id),
        front.messages(setup.mail, thread.thread_id, limit=10),
        front.submit(setup.mail, Submission(thread_id=thread.thread_id, text="intruder")),
    ):
        with pytest.raises(UnknownThreadError, match="does not exist"):
            await other
    assert len(setup.conversations.messages) == 1


async def test_a_key_opens_threads_on_its_channels_only(setup: Setup) -> None:
    with pytest.raises(ChannelNotAllowedError):
        await setup.front.open_thread(setup.web, NewThread(user_id="u1", channel="email"))
    thread = await setup.front.open_thread(setup.mail, NewThread(user_id="u1"))
    assert thread.channel == "email"


async def test_the_tier_comes_only_from_a_gateway_trusted_with_routing(setup: Setup) -> None:
    with pytest.raises(RoutingNotAllowedError):
        await setup.front.open_thread(setup.mail, NewThread(user_id="u1", metadata={"tier": "vip"}))
    assert setup.conversations.threads == {}


async def test_a_gateway_of_verified_users_needs_each_users_hash(setup: Setup) -> None:
    strict = dataclasses.replace(setup.web, require_identity=True)
    with pytest.raises(IdentityRequiredError):
        await setup.front.open_thread(strict, NewThread(user_id="u1"))
    with pytest.raises(InvalidIdentityError):
        await setup.front.open_thread(
            strict, NewThread(user_id="u1", user_hash=identity_hash(strict.identity_secret, "u2"))
        )
    user_hash = identity_hash(strict.identity_secret, "u1")
    thread = await setup.front.open_thread(strict, NewThread(user_id="u1", user_hash=user_hash))
    assert thread.user_id == "u1"


async def test_bad_input_is_refused_before_anything_is_stored(setup: Setup) -> None:
    with pytest.raises(InvalidIdError):
        await setup.front.open_thread(setup.web, NewThread(user_id="a b"))
    with pytest.raises(InvalidMetadataError):
        await setup.front.open_thread(setup.web, NewThread(user_id="u1", metadata={"\x00": "v"}))
    with pytest.raises(InvalidIdError):
        await setup.front.thread(setup.web, "../etc")
    assert setup.conversations.threads == {}


async def test_a_message_speaks_for_its_threads_user(setup: Setup) -> None:
    thread = await setup.front.open_thread(setup.web, NewThread(user_id="u1"))
    with pytest.raises(UserMismatchError):
        await setup.front.submit(
            setup.web, Submission(thread_id=thread.thread_id, text="hi", user_id="u2")
        )


async def test_each_end_user_has_a_limit_within_the_keys(setup: Setup) -> None:
    alice = await setup.front.open_thread(setup.web, NewThread(user_id="alice"))
    for _ in range(4):  # the burst of 5, the first taken by opening the thread
        await setup.front.thread(setup.web, alice.thread_id)
    with pytest.raises(RateLimitedError, match="end user"):
        await setup.front.thread(setup.web, alice.thread_id)
    bob = await setup.front.open_thread(setup.web, NewThread(user_id="bob"))
    await setup.front.thread(setup.web, bob.thread_id)  # others are not held up
    setup.clock.now += 1
    await setup.front.thread(setup.web, alice.thread_id)


async def test_a_key_has_a_limit_over_all_its_users(setup: Setup) -> None:
    for i in range(20):
        await setup.front.open_thread(setup.web, NewThread(user_id=f"u{i}"))
    with pytest.raises(RateLimitedError, match="gateway key"):
        await setup.front.open_thread(setup.web, NewThread(user_id="one-more"))
    await setup.front.open_thread(setup.mail, NewThread(user_id="one-more"))
