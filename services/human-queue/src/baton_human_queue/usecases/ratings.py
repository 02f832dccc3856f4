"""Keeping the users' ratings of conversations (``thread.rated``), for the reports."""

from __future__ import annotations

from baton_contracts import ThreadRated

from .. import metrics
from ..ports import RatingStore
from ..satisfaction import Rating


class Ratings:
    def __init__(self, *, ratings: RatingStore) -> None:
        self._ratings = ratings

    async def record(self, event: ThreadRated) -> bool:
        """Keep the rating, once however often Kafka delivers it, and count it
        (``baton_csat_ratings_total``) when it is new. Ingest took it once per resolution,
        already attributed: to the agent who resolved the conversation, or to the AI."""
        rating = Rating.of(event)
        if not await self._ratings.add(rating):
            return False
        metrics.rated(rating.resolved_by, rating.score)
        return True
