"""The admin's failed jobs list (proctoring/ops/admin/failed.py), its actions (admin_failed_actions.py)
and a job's detail page (proctoring/ops/admin/job.py), on the real Redis, with failures made by a real
worker against the recording API.

Here the tests that start real processes;
the others are in tests/integration/ops/test_admin_failed.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from django.test import Client
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.utils import utcformat

from exams.models import Attempt
from proctoring.core.frames import parse_image
from proctoring.models import FrameResult
from proctoring.ops.admin import failed as admin_failed
from proctoring.queue import counters, policy
from proctoring.queue import enqueue as enqueuing
from proctoring.store import keys
from tests.admin_pages import ACTION, FAILED, frame_url, job_url, page, post
from tests.support import RecordingApi, Reply, jpeg_bytes, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FRAME = jpeg_bytes(64, 48, (200, 40, 40))
REJECTED = Reply(422, {"error": "not a face"})


def enqueue(client_id: str, seq: int) -> str:
    return enqueuing.enqueue_frame(client_id, client_id, seq, parse_image(FRAME, 1 << 20))


def registry() -> FailedJobRegistry:
    return FailedJobRegistry(queue=policy.get_queue())


def wait_failed(*job_ids: str) -> None:
    wait_until(lambda: set(job_ids) <= set(registry().get_job_ids(cleanup=False)), 30, f"{job_ids} failed")


def listed(client: Client, query: str = "") -> list[str]:
    """The job ids of the list's rows, in order."""
    response = client.get(FAILED + query)
    assert response.status_code == 200
    return [row.job_id for row in response.context["rows"]]


# --- Access ----------------------------------------------------------------------------------


# --- Pure helpers ----------------------------------------------------------------------------


# --- Without a worker ------------------------------------------------------------------------


# --- With a real worker ----------------------------------------------------------------------


@pytest.mark.slow
def test_the_list_shows_filters_and_pages_failed_jobs_whatever_is_missing(
    staff_client: Client,
    attempt: Attempt,
    api: RecordingApi,
    start_worker: Any,
    redis_conn: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api.script(REJECTED)
    client_id = str(attempt.pk)
    rejected = [enqueue(client_id, seq) for seq in (1, 2, 3)]
    camera = enqueue("camera-7", 1)  # a client id that is no attempt (and no UUID)
    missing = enqueue(client_id, 4)
    redis_conn.delete(keys.frame(missing))  # its bytes are gone before the worker takes it
    gone = enqueue(client_id, 5)
    other = policy.get_queue().enqueue("json.loads", "not json")  # not a frame job
    start_worker()
    wait_failed(*rejected, camera, missing, gone, other.id)
    redis_conn.delete(Job.key_for(gone))  # its job hash expired or was deleted by hand

    text = page(staff_client, FAILED)
    assert "7 failed jobs" in text
    for job_id in (*rejected, camera, missing, other.id):
        assert f'href="{job_url(job_id)}"' in text
    assert gone in text and f'href="{job_url(gone)}"' not in text and "(job data gone)" in text
    assert client_id in text and attempt.user.username in text and attempt.exam.title in text
    assert "camera-7" in text
    assert "API answered 422" in text and "not a face" in text and "<td>422</td>" in text
    assert "0 of 2 left" in text  # the rejection used up the retries at once
    # Kinds come from the index of failed frame jobs (kept at their final failure): the job
    # whose hash was deleted by hand stays in it until its failure expires; a job of another
    # function is listed but not indexed.
    for kind, count in [("ApiRejected", 5), ("FrameMissing", 1)]:
        assert f'data-kind="{kind}">{kind} ({count})</a>' in text
    assert 'data-kind="JSONDecodeError"' not in text

    # Newest failure first (the registry's score), the same order as RQ's own.
    assert listed(staff_client) == registry().get_job_ids(desc=True, cleanup=False)

    assert listed(staff_client, "?client=camera-7") == [camera]
    assert set(listed(staff_client, f"?client={client_id}")) == {*rejected, missing, gone}
    assert listed(staff_client, "?kind=FrameMissing") == [missing]
    assert listed(staff_client, "?kind=JSONDecodeError") == []
    assert set(listed(staff_client, f"?kind=ApiRejected&client={client_id}")) == {*rejected, gone}
    assert listed(staff_client, "?kind=NoSuchKind") == []

    # Pages of two: every job once, in the same order; the filters carry over to the links.
    monkeypatch.setattr(admin_failed, "PAGE_SIZE", 2)
    pages = [listed(staff_client, f"?page={number}") for number in (1, 2, 3, 4)]
    assert [len(ids) for ids in pages] == [2, 2, 2, 1]
    assert sum(pages, []) == registry().get_job_ids(desc=True, cleanup=False)
    assert listed(staff_client, "?page=99") == pages[-1]  # past the end: the last page
    filtered = page(staff_client, f"{FAILED}?client={client_id}")
    assert f'href="?client={client_id}&amp;page=2"' in filtered
    assert len(listed(staff_client, f"?client={client_id}&page=2")) == 2

    # Detail pages of the odd ones render; a job whose hash is gone is unknown.
    detail = page(staff_client, job_url(missing))
    assert "FrameMissing" in detail and "frame no longer stored" in detail
    assert frame_url(missing) not in detail
    assert staff_client.get(frame_url(missing)).status_code == 404
    detail = page(staff_client, job_url(other.id))
    assert "not a frame job" in detail and "Traceback" in detail and "JSONDecodeError" in detail
    assert staff_client.get(job_url(gone)).status_code == 404


@pytest.mark.slow
def test_retry_keeps_the_job_id_and_delivers_then_counts_are_right(
    user: Any,
    staff_client: Client,
    attempt: Attempt,
    api: RecordingApi,
    start_worker: Any,
    settings: Any,
) -> None:
    # An outage, each frame failed at its first attempt: a frame the API refused keeps no image
    # to retry (tests/processes/worker/test_failed_storage.py).
    settings.PROCTORING_JOB_ATTEMPTS = 1
    api.script(Reply(503, {"error": "overloaded"}))
    client_id = str(attempt.pk)
    first, *others = [enqueue(client_id, seq) for seq in (1, 2, 3)]
    camera = enqueue("camera-7", 1)
    start_worker(PROCTORING_JOB_ATTEMPTS="1", PROCTORING_BREAKER_THRESHOLD="0")
    wait_failed(first, *others, camera)
    wait_until(lambda: counters.read([client_id])[client_id]["failed"] == 3, 10, "three counted failed")

    # The detail page: metadata, the API's answer, the traceback, and the frame itself.
    detail = page(staff_client, job_url(first))
    assert "Traceback" in detail and "ApiUnavailable: API answered 503" in detail
    assert "proctoring.core.exceptions.ApiUnavailable" in detail
    assert "&quot;error&quot;: &quot;overloaded&quot;" in detail  # the API body, escaped
    assert f'<img src="{frame_url(first)}"' in detail and attempt.user.username in detail
    assert "<tr><th>Status</th><td>failed " in detail and "Retry this job" in detail
    image = staff_client.get(frame_url(first))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert image.content == FRAME

    # An exam taker cannot retry anything.
    taker = Client()
    taker.force_login(user)
    assert taker.post(ACTION, {"action": f"retry:{first}"})["Location"].startswith("/admin/login/")
    assert first in registry()

    api.script(Reply(200, {"ok": True, "flags": ["second-person"]}))
    assert post(staff_client, action=f"retry:{first}", next=job_url(first)) == ["Retried 1 failed job."]
    assert first not in registry()
    wait_until(lambda: FrameResult.objects.filter(job_id=first).exists(), 30, "delivered after retry")
    assert api.calls[-1].headers["Idempotency-Key"] == first  # the same id, so the same key
    assert FrameResult.objects.get(job_id=first).result["flags"] == ["second-person"]

    # Every failed job of the client; the other client's stays failed.
    assert post(staff_client, action="retry-client", client=client_id) == ["Retried 2 failed jobs."]
    wait_until(lambda: FrameResult.objects.filter(job_id__in=others).count() == 2, 30, "delivered")
    assert registry().get_job_ids(cleanup=False) == [camera]
    wait_until(lambda: counters.read([client_id])[client_id]["failed"] == 0, 10, "no longer counted failed")
    # Successes are counted by the worker's success batch, just after their results are stored.
    wait_until(lambda: counters.read([client_id])[client_id]["completed_today"] == 3, 10, "three completed")
    assert counters.read(["camera-7"])["camera-7"]["failed"] == 1
    assert post(staff_client, action=f"retry:{first}")[0].startswith("Retried 0 failed jobs. 1 skipped")


@pytest.mark.slow
def test_delete_selected_delete_one_and_clean_older_than(
    staff_client: Client, attempt: Attempt, api: RecordingApi, start_worker: Any, redis_conn: redis.Redis
) -> None:
    api.script(REJECTED)
    client_id = str(attempt.pk)
    doomed, also_doomed, old, recent, single = [enqueue(client_id, seq) for seq in range(1, 6)]
    start_worker()
    wait_failed(doomed, also_doomed, old, recent, single)

    messages = post(staff_client, action="delete", job_id=[doomed, also_doomed])
    assert messages == ["Deleted 2 failed jobs."]
    for job_id in (doomed, also_doomed):
        assert job_id not in registry()
        assert not redis_conn.exists(Job.key_for(job_id), keys.frame(job_id))
    wait_until(lambda: counters.read([client_id])[client_id]["failed"] == 3, 10, "deletes counted")

    # Make `old` look as if it failed three days ago: its job's ended_at and its registry score
    # (failure time + failure TTL) are edited in Redis, the way RQ itself writes them.
    then = datetime.now(UTC) - timedelta(days=3)
    job = Job.fetch(old, connection=redis_conn)
    redis_conn.hset(job.key, "ended_at", utcformat(then))
    redis_conn.zadd(registry().key, {old: then.timestamp() + (job.failure_ttl or 0)})
    assert post(staff_client, action="clean", hours="48") == ["Deleted 1 failed job."]
    assert set(registry().get_job_ids(cleanup=False)) == {recent, single}
    assert not redis_conn.exists(keys.frame(old))
    assert post(staff_client, action="clean", hours="48")[0].startswith("Deleted 0 failed jobs.")

    # Delete one, from its detail page (which sends the operator back to the list).
    assert post(staff_client, action=f"delete:{single}") == ["Deleted 1 failed job."]
    assert registry().get_job_ids(cleanup=False) == [recent]
    assert staff_client.get(job_url(single)).status_code == 404
    wait_until(lambda: counters.read([client_id])[client_id]["failed"] == 1, 10, "deletes counted")
