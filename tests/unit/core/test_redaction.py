"""Credentials in a URL are hidden wherever the URL is shown or logged."""

from __future__ import annotations

import pytest

from proctoring.core.redaction import redacted_url, scrubbed


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.example/v1/analyze", "https://api.example/v1/analyze"),
        ("https://user:s3cret@api.example/v1", "https://user:***@api.example/v1"),
        ("https://s3cret@api.example/v1", "https://***@api.example/v1"),
        ("https://user:@api.example/v1", "https://user:***@api.example/v1"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("http://user:p%40ss@api.example:8080/x?y=1", "http://user:***@api.example:8080/x?y=1"),
        ("https://api.example/v1?api_key=s3cret&mode=fast", "https://api.example/v1?api_key=***&mode=fast"),
        ("https://api.example/v1?token=s3cret", "https://api.example/v1?token=***"),
        (
            "https://api.example/v1?X-Amz-Signature=abc&X-Amz-Date=1",
            "https://api.example/v1?X-Amz-Signature=***&X-Amz-Date=1",
        ),
        (
            "https://api.example/v1?access_token=a&client_secret=b;sig=c",
            "https://api.example/v1?access_token=***&client_secret=***;sig=***",
        ),
        ("https://u:p@api.example/v1?apiKey=k", "https://u:***@api.example/v1?apiKey=***"),
        ("https://api.example/v1?key=", "https://api.example/v1?key="),
        ("https://api.example/v1?page=2#token=x", "https://api.example/v1?page=2#token=x"),
    ],
)
def test_redacted_url_hides_the_credentials(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


def test_scrubbed_hides_the_url_and_its_password_anywhere_in_a_text() -> None:
    url = "https://user:s3cret@api.example/v1"
    text = f"API unreachable at {url}: auth s3cret refused"
    assert scrubbed(text, url) == "API unreachable at https://user:***@api.example/v1: auth *** refused"


def test_scrubbed_hides_a_query_string_secret_raw_or_decoded() -> None:
    url = "https://api.example/v1?api_key=s3cr%2Bt&mode=fast"
    text = f"POST {url} failed; key s3cr+t rejected, s3cr%2Bt"
    assert (
        scrubbed(text, url)
        == "POST https://api.example/v1?api_key=***&mode=fast failed; key *** rejected, ***"
    )


def test_scrubbed_leaves_a_text_alone_when_the_url_has_no_credentials() -> None:
    assert scrubbed("at https://api.example/v1", "https://api.example/v1") == "at https://api.example/v1"
