"""The human queue's agent API, as one agent (its bearer token) sees it.

An error answer (``{"detail": ..., "code": ...}``) becomes a :class:`CliError` carrying the
detail, so the user reads the API's own sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .config import Login
from .errors import CliError

Json = dict[str, Any]
TIMEOUT_S = 15.0


class Api:
    """The agent API with one agent's token; raises :class:`CliError` with the API's detail."""

    def __init__(self, login: Login, *, transport: httpx.BaseTransport | None = None) -> None:
        self._url = login.url
        self._http = httpx.Client(
            base_url=login.url,
            headers={"Authorization": f"Bearer {login.token}", "Accept": "application/json"},
            timeout=TIMEOUT_S,
            transport=transport,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Json:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                path,
                params=query,
                json=body,
                headers=dict(headers or {}),
            )
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self._url}: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_error:
            detail = data.get("detail") if isinstance(data, dict) else None
            if not isinstance(detail, str):
                detail = f"{response.status_code} {response.reason_phrase}"
            raise CliError(detail)
        if not isinstance(data, dict):
            raise CliError(f"{method} {path}: the answer is not a JSON object")
        return data

    def get(self, path: str, **params: Any) -> Json:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **headers: str) -> Json:
        return self.request("POST", path, body=body, headers=headers)
