"""The web chat: a customer's side of a conversation in the browser, served by ingest at
``/chat``. The offline demo and a reference gateway in one: it uses the gateway API only."""

from .router import chat_router

__all__ = ["chat_router"]
