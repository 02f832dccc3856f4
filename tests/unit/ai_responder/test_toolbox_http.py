"""URL templates: the model picks values, never the host or the shape of the path."""

from __future__ import annotations

from typing import Any

import pytest

from baton_ai_responder.toolbox import HttpEndpoint, UrlTemplate
from baton_ai_responder.toolbox.http import pick


@pytest.mark.parametrize(
    "url",
    [
        "https://{host}/x",
        "https://api.x/{a}@evil",
        "{base}/x",
        "{base}",
        "https://api.x:{port}/x",
        "https://{user}@api.x/x",
        "https://api.x{path}",
        "https://api.x/v1/{a}{b}",
        "https://api.x/v1/pre-{a}",
        "https://api.x/v1/{a}/{b",
        "https://api.x/v1?{a}",
        "https://api.x/v1?q=x{a}",
        "https://api.x/v1#{a}",
        "https://api.x/v1/{a b}",
        "https://api.x/v1/x y",
        "//api.x/v1",
        "https:///v1",
        "file:///etc/passwd",
    ],
)
def test_templates_that_would_let_the_model_move_the_request_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"placeholder|must|spaces"):
        UrlTemplate.parse(url)


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("42", "42"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("a/b?c=d#e", "a%2Fb%3Fc%3Dd%23e"),
        ("x@evil.example:80", "x%40evil.example%3A80"),
        ("%2F", "%252F"),
        ("...", "..."),
        ("café", "caf%C3%A9"),
        (7, "7"),
        (True, "true"),
    ],
)
def test_a_value_is_one_encoded_segment(value: Any, segment: str) -> None:
    template = UrlTemplate.parse("https://orders.internal/v1/orders/{id}/lines")
    assert template.render({"id": value}) == f"https://orders.internal/v1/orders/{segment}/lines"


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_values_that_would_change_the_path_are_refused(value: str) -> None:
    template = UrlTemplate.parse("https://orders.internal/v1/orders/{id}")
    with pytest.raises(ValueError, match="cannot be"):
        template.render({"id": value})


def test_a_missing_placeholder_value_is_refused() -> None:
    template = UrlTemplate.parse("https://orders.internal/v1/orders/{id}")
    with pytest.raises(ValueError, match="needs the argument id"):
        template.render({"id": None})


def test_query_values_are_encoded_whole() -> None:
    template = UrlTemplate.parse("https://api.x:8443/search?q={term}&lang=en&flag")
    url = template.render({"term": "a&b=c#d"}, [("page size", 2), ("tag", ["x/y", "z"])])
    assert (
        url
        == "https://api.x:8443/search?q=a%26b%3Dc%23d&lang=en&flag&page%20size=2&tag=x%2Fy&tag=z"
    )
    assert template.names == {"term"}


def test_what_is_not_in_the_url_is_the_body_of_a_post() -> None:
    arguments = {"order_id": "1", "notify": False, "amount": 5, "lines": [1, 2], "note": None}
    url = UrlTemplate.parse("https://api.x/orders/{order_id}/refunds")
    post = HttpEndpoint(method="POST", url=url, query=("notify", "note"))
    get = HttpEndpoint(method="GET", url=url, query=("notify",))

    assert post.request(arguments) == (
        "https://api.x/orders/1/refunds?notify=false",
        {"amount": 5, "lines": [1, 2]},
    )
    assert get.request(arguments) == ("https://api.x/orders/1/refunds?notify=false", None)


def test_response_fields_are_picked_nested() -> None:
    answer = {"status": "shipped", "delivery": {"date": "2025-03-02", "by": "x"}, "n": 0}
    assert pick(answer, ["status", "delivery.date", "n", "missing", "status.deeper"]) == {
        "status": "shipped",
        "delivery": {"date": "2025-03-02"},
        "n": 0,
    }
