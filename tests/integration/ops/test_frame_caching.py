"""Frames, thumbnails and snapshots are evidence about a person: no cache keeps them (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from proctoring.ops.admin.job import job_frame
from tests.communicators import converse, token_path
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def kept_by_no_cache(cache_control: str) -> bool:
    directives = {part.strip() for part in cache_control.split(",")}
    max_ages = {d for d in directives if d.startswith("max-age")}
    return {"no-store", "private"} <= directives and max_ages <= {"max-age=0"}


def test_a_queued_frame_on_its_job_page_is_not_cached(
    staff_client: Any, attempt: Any, redis_conn: Any
) -> None:
    image = jpeg_bytes()
    [ack] = converse(token_path(attempt), [{"bytes_data": image}])
    response = staff_client.get(f"/admin/proctoring/queue/jobs/{ack['job_id']}/frame")
    assert response.status_code == 200 and response.content == image
    assert kept_by_no_cache(response["Cache-Control"]), response["Cache-Control"]


def test_the_frame_view_itself_forbids_caching_whatever_wraps_it(attempt: Any, redis_conn: Any) -> None:
    """The admin's wrapper adds never_cache; the view must not rely on it being mounted there."""
    [ack] = converse(token_path(attempt), [{"bytes_data": jpeg_bytes()}])
    request = RequestFactory().get("/frame")
    request.user = get_user_model().objects.create_superuser("ops")
    response = job_frame(request, ack["job_id"])
    assert kept_by_no_cache(response["Cache-Control"]), response["Cache-Control"]
