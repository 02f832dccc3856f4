"""The agent console: a browser front end on the agent API, served by the human queue."""

from .router import console_router

__all__ = ["console_router"]
