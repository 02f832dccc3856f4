"""The user's rating of a conversation (CSAT), over the in-memory conversation core: given
to whoever resolved the conversation last, once per resolution, through the rating route
or as a lone digit after a person resolved it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from baton_contracts import HumanAgent, MessageReceived, MessageSubmitted, ThreadRated, utc_now
from baton_conversations import Because, ThreadResolution
from baton_ingest.domain import AlreadyRatedError, NotResolvedError, Submission, text_score
from baton_ingest.inputs import InvalidCommentError, InvalidScoreError
from baton_ingest.usecases import Ingest
from tests.support.memory import MemoryConversations

WINDOW = timedelta(hours=1)


class Setup:
    def __init__(self, *, window: timedelta = WINDOW) -> None:
        self.conversations = MemoryConversations()
        self.now: datetime | None = None
        self.ingest = Ingest(
            conversations=self.conversations,
            max_text_length=100,
            rating_text_window=window,
            clock=lambda: self.now or utc_now(),
        )

    async def thread(self) -> str:
        thread = await self.conversations.open_thread(
            user_id="u1", channel="web", department="billing", metadata={}
        )
        return thread.thread_id

    async def resolved(self, thread_id: str, ticket_id: str = "t-1", agent: str = "Alex") -> None:
        """A person resolved the conversation, as the human queue's follow-up records it."""
        await self.conversations.record_resolution(
            thread_id,
            ThreadResolution(
                ticket_id=ticket_id,
                agent_id=f"agent-{agent.lower()}",
                agent_name=agent,
                agent_department="billing",
                department="billing",
                at=utc_now(),
            ),
        )

    async def rate(self, thread_id: str, score: int, comment: str | None = None) -> ThreadRated:
        thread = await self.conversations.require_thread(thread_id)
        return await self.ingest.rate(thread, score=score, comment=comment)

    def rated(self) -> list[ThreadRated]:
        return self.conversations.publisher.of_type(ThreadRated)

    def received(self) -> list[MessageReceived]:
        return self.conversations.publisher.of_type(MessageReceived)


# ---------------------------------------------------------------- the rating route


async def test_a_conversation_no_person_resolved_is_rated_as_the_ais_once() -> None:
    setup = Setup()
    thread_id = await setup.thread()

    rated = await setup.rate(thread_id, 4, "Quick and right.")

    assert (rated.resolved_by, rated.agent, rated.ticket_id) == ("ai", None, None)
    assert (rated.score, rated.comment, rated.via, rated.department) == (
        4,
        "Quick and right.",
        "api",
        "billing",
    )
    assert setup.rated() == [rated]
    with pytest.raises(AlreadyRatedError):
        await setup.rate(thread_id, 5)
    assert setup.rated() == [rated]


async def test_a_rating_goes_to_the_agent_who_resolved_last_once_per_resolution() -> None:
    setup = Setup()
    thread_id = await setup.thread()
    await setup.resolved(thread_id, "t-1", "Alex")

    first = await setup.rate(thread_id, 2)
    assert (first.resolved_by, first.ticket_id) == ("human", "t-1")
    assert first.agent == HumanAgent(agent_id="agent-alex", name="Alex", department="billing")
    with pytest.raises(AlreadyRatedError):
        await setup.rate(thread_id, 5)

    # Resolved again, by Sam: a new resolution takes a new rating, Sam's.
    await setup.resolved(thread_id, "t-2", "Sam")
    second = await setup.rate(thread_id, 5)
    assert (second.ticket_id, second.agent and second.agent.name) == ("t-2", "Sam")
    assert [e.score for e in setup.rated()] == [2, 5]


async def test_a_rating_after_the_ais_is_taken_again_once_a_person_resolves() -> None:
    setup = Setup()
    thread_id = await setup.thread()
    await setup.rate(thread_id, 3)
    await setup.resolved(thread_id)
    assert (await setup.rate(thread_id, 5)).resolved_by == "human"


async def test_a_conversation_people_hold_and_never_resolved_is_not_rated_yet() -> None:
    setup = Setup()
    thread_id = await setup.thread()
    thread = await setup.conversations.require_thread(thread_id)
    await setup.conversations.assign(
        thread,
        owner="human",
        agent_id=None,
        reason="the user asked for a person",
        because=Because(event_id=uuid.uuid4(), correlation_id=uuid.uuid4(), causation_id=None),
    )

    with pytest.raises(NotResolvedError):
        await setup.rate(thread_id, 2)
    assert setup.rated() == []

    await setup.resolved(thread_id)
    assert (await setup.rate(thread_id, 5)).resolved_by == "human"


@pytest.mark.parametrize(
    ("score", "comment", "error"),
    [
        (0, None, InvalidScoreError),
        (6, None, InvalidScoreError),
        (-1, None, InvalidScoreError),
        (5, "x" * 2001, InvalidCommentError),
        (5, "bell \u0007", InvalidCommentError),
        (5, "lone \ud800", InvalidCommentError),
    ],
)
async def test_a_bad_rating_is_refused_and_records_nothing(
    score: int, comment: str | None, error: type[Exception]
) -> None:
    setup = Setup()
    thread_id = await setup.thread()
    with pytest.raises(error):
        await setup.rate(thread_id, score, comment)
    assert setup.rated() == []
    assert (await setup.conversations.require_thread(thread_id)).rating is None
    # Refused, not spent: a good rating is still taken.
    assert (await setup.rate(thread_id, 5, "x" * 2000)).comment == "x" * 2000


async def test_a_blank_comment_is_no_comment() -> None:
    setup = Setup()
    thread_id = await setup.thread()
    assert (await setup.rate(thread_id, 5, "  \n ")).comment is None


# ---------------------------------------------------------------- a rating by text


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        (" 1 ", 1),
        ("\n4\t", 4),
        ("0", None),
        ("6", None),
        ("5 stars", None),
        ("five", None),
        ("55", None),
        ("4.5", None),
        ("\u0665", None),  # ARABIC-INDIC DIGIT FIVE: a digit to `\d`, not to a rating
        ("", None),
    ],
)
def test_a_rating_by_text_is_a_lone_digit_from_one_to_five(text: str, score: int | None) -> None:
    assert text_score(text) == score


async def test_a_lone_digit_after_a_resolution_is_the_rating_stored_and_answered_by_nobody() -> (
    None
):
    setup = Setup()
    thread_id = await setup.thread()
    await setup.ingest.submit(Submission(thread_id=thread_id, text="My card was charged twice"))
    await setup.resolved(thread_id)

    accepted = await setup.ingest.submit(Submission(thread_id=thread_id, text=" 5\n"))

    [rated] = setup.rated()
    assert (rated.score, rated.via, rated.resolved_by, rated.ticket_id) == (
        5,
        "text",
        "human",
        "t-1",
    )
    # The message stays in the thread as the user wrote it, and nobody answers it.
    assert [m.text for m in await setup.ingest.messages(thread_id, limit=10)][-1] == " 5\n"
    received = setup.received()[-1]
    assert (received.message_id, received.respond) == (accepted.message_id, False)
    assert rated.correlation_id == received.correlation_id

    # The next lone digit is an ordinary message: the resolution has its rating.
    await setup.ingest.submit(Submission(thread_id=thread_id, text="5"))
    assert len(setup.rated()) == 1
    assert setup.received()[-1].respond is True


async def test_a_rating_by_text_stored_again_is_one_rating_and_one_message() -> None:
    setup = Setup()
    thread_id = await setup.thread()
    await setup.resolved(thread_id)
    submission = Submission(thread_id=thread_id, text="4", idempotency_key="k-1")

    first = await setup.ingest.submit(submission)
    again = await setup.ingest.submit(submission)

    assert (first.message_id, again.created) == (again.message_id, False)
    assert [e.score for e in setup.rated()] == [4]
    assert [e.respond for e in setup.received()] == [False]


async def test_a_rating_recorded_before_its_message_was_stored_is_found_again() -> None:
    """A crash between the rating and the message: the retry finds its own rating and
    stores the message as a rating, answered by nobody."""
    setup = Setup()
    thread_id = await setup.thread()
    await setup.resolved(thread_id)
    submission = Submission(thread_id=thread_id, text="3", idempotency_key="k-2")
    await setup.ingest.submit(submission)
    # The message is lost, its rating recorded.
    [message_id] = [m for m, msg in setup.conversations.messages.items() if msg.text == "3"]
    del setup.conversations.messages[message_id]
    setup.conversations.publisher.published.clear()

    await setup.ingest.submit(submission)

    assert setup.rated() == []  # announced with the rating, the first time
    [received] = setup.received()
    assert (received.message_id, received.respond) == (message_id, False)


async def test_a_lone_digit_is_an_answer_where_no_rating_is_awaited() -> None:
    setup = Setup()

    # No person resolved the conversation: "3" answers the AI's "how many?".
    ai_thread = await setup.thread()
    await setup.ingest.submit(Submission(thread_id=ai_thread, text="3"))

    # The user wrote since the resolution: the conversation went on.
    went_on = await setup.thread()
    await setup.resolved(went_on)
    await setup.ingest.submit(Submission(thread_id=went_on, text="One more thing"))
    await setup.ingest.submit(Submission(thread_id=went_on, text="2"))

    # Past the window.
    late = await setup.thread()
    await setup.resolved(late)
    setup.now = utc_now() + WINDOW + timedelta(seconds=1)
    await setup.ingest.submit(Submission(thread_id=late, text="5"))
    setup.now = None

    assert setup.rated() == []
    assert all(e.respond for e in setup.received())


async def test_no_window_no_rating_by_text() -> None:
    setup = Setup(window=timedelta(0))
    thread_id = await setup.thread()
    await setup.resolved(thread_id)
    await setup.ingest.submit(Submission(thread_id=thread_id, text="5"))
    assert setup.rated() == []
    assert setup.received()[-1].respond is True


async def test_a_kafka_rating_by_text_is_caused_by_its_event() -> None:
    setup = Setup()
    thread_id = await setup.thread()
    await setup.resolved(thread_id)
    submitted = MessageSubmitted.first(thread_id=thread_id, text="1")
    submission = Submission(thread_id=thread_id, text="1")

    await setup.ingest.submit(submission, cause=submitted)
    await setup.ingest.submit(submission, cause=submitted)  # redelivered

    [rated] = setup.rated()
    assert (rated.score, rated.causation_id, rated.correlation_id) == (
        1,
        submitted.event_id,
        submitted.correlation_id,
    )
    assert [e.respond for e in setup.received()] == [False]
