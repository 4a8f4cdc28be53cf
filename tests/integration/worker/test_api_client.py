"""The API client, called directly against a real HTTP server on 127.0.0.1: what it sends, and
that reading the environment once per session still honours a proxy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from proctoring.core.exceptions import ApiRejected, ApiUnavailable
from proctoring.core.frames import FrameMeta
from proctoring.worker import api_client
from tests.support import RecordingApi, Reply, jpeg_bytes


def meta(seq: int = 3) -> FrameMeta:
    now = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
    return FrameMeta(
        client_id="client-x",
        attempt_id="attempt-x",
        seq=seq,
        captured_at=now,
        received_at=now,
        content_type="image/jpeg",
    )


def in_new_thread(call: Any) -> Any:
    """Runs `call` in a fresh thread (a fresh session: sessions are per thread) and returns or
    raises what it did."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def proxy_url(server: RecordingApi) -> str:
    return f"http://127.0.0.1:{urlsplit(server.url).port}"


@pytest.fixture
def proxy() -> Iterator[RecordingApi]:
    server = RecordingApi().start()
    yield server
    server.stop()


def test_each_call_is_its_own_multipart_request_on_one_session(api: RecordingApi, settings: Any) -> None:
    settings.PROCTORING_API_KEY = "k-1"
    image = jpeg_bytes(64, 48)

    def two_calls() -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            api_client.analyze_frame(meta(1), image, idempotency_key="key-1"),
            api_client.analyze_frame(meta(2), image, idempotency_key="key-2"),
        )

    answer = {"ok": True, "flags": []}
    assert in_new_thread(two_calls) == (answer, answer)
    first, second = api.calls
    assert [first.headers["Idempotency-Key"], second.headers["Idempotency-Key"]] == ["key-1", "key-2"]
    assert first.headers["Authorization"] == "Bearer k-1"
    assert first.headers["Content-Type"] != second.headers["Content-Type"]  # a boundary per call
    assert first.fields == {
        "client_id": "client-x",
        "attempt_id": "attempt-x",
        "seq": "1",
        "captured_at": "2026-11-29T09:30:00+00:00",
    }
    assert first.files["image"] == ("frame-1.jpg", "image/jpeg", image)
    assert second.fields["seq"] == "2"


def test_a_changed_api_key_is_used_at_once(api: RecordingApi, settings: Any) -> None:
    settings.PROCTORING_API_KEY = "old"

    def two_keys() -> None:
        api_client.analyze_frame(meta(), b"\xff\xd8\xff\xd9", idempotency_key="a")
        settings.PROCTORING_API_KEY = "new"
        api_client.analyze_frame(meta(), b"\xff\xd8\xff\xd9", idempotency_key="b")

    in_new_thread(two_keys)
    assert [call.headers["Authorization"] for call in api.calls] == ["Bearer old", "Bearer new"]


def test_http_proxy_from_the_environment_is_honoured(
    api: RecordingApi, proxy: RecordingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy_url(proxy))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    in_new_thread(lambda: api_client.analyze_frame(meta(), b"\xff\xd8\xff\xd9", idempotency_key="via-proxy"))
    assert api.calls == []
    [call] = proxy.calls
    assert call.path == api.url  # a proxy is asked for the absolute URL
    assert call.headers["Idempotency-Key"] == "via-proxy"


def test_no_proxy_lets_the_call_go_direct(
    api: RecordingApi, proxy: RecordingApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy_url(proxy))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    in_new_thread(lambda: api_client.analyze_frame(meta(), b"\xff\xd8\xff\xd9", idempotency_key="direct"))
    assert proxy.calls == [] and len(api.calls) == 1


@pytest.mark.parametrize(
    ("reply", "error", "retryable", "said"),
    [
        (Reply(503, {"error": "busy"}), ApiUnavailable, True, "busy"),
        (Reply(429, {"error": "slow down"}), ApiUnavailable, True, "slow down"),
        (Reply(422, {"error": "not an image"}), ApiRejected, False, "not an image"),
        (Reply(200, ["not", "an", "object"]), ApiRejected, False, "not an object"),
    ],
)
def test_answers_that_are_not_a_result_raise_with_status_and_body(
    api: RecordingApi, reply: Reply, error: type[Exception], retryable: bool, said: str
) -> None:
    api.script(reply)
    with pytest.raises(error) as raised:
        in_new_thread(lambda: api_client.analyze_frame(meta(), b"\xff\xd8\xff\xd9", idempotency_key="e"))
    assert raised.value.status == reply.status  # type: ignore[attr-defined]
    assert raised.value.retryable is retryable  # type: ignore[attr-defined]
    assert said in str(raised.value)


def test_credentials_in_the_api_url_stay_out_of_the_error(settings: Any) -> None:
    import socket
    import traceback

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.PROCTORING_API_URL = f"http://apiuser:s3cret-pw@127.0.0.1:{port}/v1/analyze"
    with pytest.raises(ApiUnavailable) as raised:
        in_new_thread(lambda: api_client.analyze_frame(meta(), jpeg_bytes(8, 8), idempotency_key="k"))
    shown = "".join(traceback.format_exception(raised.value))
    assert "s3cret-pw" not in shown, shown
    assert f"http://apiuser:***@127.0.0.1:{port}/v1/analyze" in str(raised.value)
