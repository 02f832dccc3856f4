"""The optional LLM classifier: asks a model who should answer, as structured output."""

from __future__ import annotations

from typing import Protocol

import openai
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import ValidationError

from baton_runtime import (
    LLM_CALLS,
    LLM_LATENCY_SECONDS,
    LlmPricing,
    ModelSlots,
    llm_outcome,
    model_call,
    record_llm_usage,
    start_llm_metrics,
)

from .policy import Classification, RoutedMessage

SCHEMA_NAME = "route_classification"
SYSTEM_PROMPT = (
    "You route customer support messages. Decide whether the AI assistant can answer "
    "(handler 'ai') or a human support agent must (handler 'human'): for example the user "
    "insists on a person, is very upset, threatens legal action, or the request needs "
    "judgement or authority an assistant lacks. Give a short reason and your confidence."
)
RESPONSE_FORMAT: ResponseFormatJSONSchema = {
    "type": "json_schema",
    "json_schema": {
        "name": SCHEMA_NAME,
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "handler": {"type": "string", "enum": ["ai", "human"]},
                "reason": {"type": "string"},
                "confidence": {"type": "number"},
            },
            "required": ["handler", "reason", "confidence"],
            "additionalProperties": False,
        },
    },
}


CALLER = "classifier"
start_llm_metrics(CALLER)


class ClassifierError(Exception):
    pass


class InvalidOutputError(Exception):
    """The model's classification does not match the schema."""


class Classifier(Protocol):
    async def classify(self, message: RoutedMessage) -> Classification: ...


class LlmClassifier:
    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        max_concurrent: int = 32,
        pricing: LlmPricing | None = None,
    ) -> None:
        self._client = client
        self._slots = ModelSlots(CALLER, max_concurrent)
        self._model = model
        self._pricing = pricing or LlmPricing()

    async def classify(self, message: RoutedMessage) -> Classification:
        error: BaseException | None = None
        try:
            async with self._slots.slot():
                with LLM_LATENCY_SECONDS.labels(CALLER).time():
                    return await self._classify(message)
        except ClassifierError as exc:
            error = exc.__cause__ or exc
            raise
        finally:
            LLM_CALLS.labels(CALLER, llm_outcome(error)).inc()

    async def _classify(self, message: RoutedMessage) -> Classification:
        try:
            with model_call(model=self._model, caller=CALLER) as call:
                completion = await self._client.chat.completions.create(
                    model=self._model,
                    messages=[
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": message.text},
                    ],
                    response_format=RESPONSE_FORMAT,
                    temperature=0,
                )
                usage = completion.usage
                call.answered(
                    model=completion.model,
                    input_tokens=usage.prompt_tokens if usage else 0,
                    output_tokens=usage.completion_tokens if usage else 0,
                    response_id=completion.id,
                )
        except openai.OpenAIError as exc:
            raise ClassifierError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        if completion.usage is not None:
            record_llm_usage(
                CALLER,
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
                pricing=self._pricing,
            )
        content = completion.choices[0].message.content if completion.choices else None
        if not content:
            raise ClassifierError("the model returned no classification") from InvalidOutputError()
        try:
            return Classification.model_validate_json(content)
        except ValidationError as exc:
            raise ClassifierError(f"invalid classification: {exc.error_count()} error(s)") from (
                InvalidOutputError(str(exc))
            )
