"""Roles (issue 18, finding 3): staff with no permission reach nothing and change nothing; a
proctor sees and reviews only their exams' attempts; the queue's pages need its permissions and a
frame's image needs its exam too. Every custom URL is walked, by name, so a new view is covered
the day it is routed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse
from rq.suspension import is_suspended

from exams import lifecycle
from exams.models import Exam
from proctoring.core.frames import parse_image
from proctoring.core.protocol import CloseCode
from proctoring.live import urls as live_urls
from proctoring.ops.admin import urls as ops_urls
from proctoring.queue import enqueue, policy
from tests.communicators import close_code, session_headers
from tests.roles import an_exam_with_everything, bare_staff, operator, proctor_of, superuser
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

PATTERNS: list[URLPattern] = [*live_urls.urlpatterns, *ops_urls.urlpatterns]
# Pages of issue 20 (a proctor's actions, the review queue, exports) answer another exam's
# objects with 403; the older pages with 404, as if they did not exist.
FORBIDDEN_NOT_HIDDEN = {
    "proctor-review-queue", "proctor-review-next", "proctor-export", "proctor-report",
    "proctor-message", "proctor-pause", "proctor-resume", "proctor-extend", "proctor-flag",
    "proctor-attempt-review", "proctor-terminate",
}  # fmt: skip
# What each action is posted with: enough to act, were it allowed.
POSTED = {
    "proctor-review": {"status": "dismissed", "comment": "not allowed"},
    # A proctor's actions, in the order of the URLs (terminate, which ends the attempt, last).
    "proctor-message": {"body": "eyes on your own screen"},
    "proctor-pause": {"reason": "not allowed"},
    "proctor-resume": {},
    "proctor-extend": {"minutes": "5"},
    "proctor-flag": {"comment": "not allowed"},
    "proctor-attempt-review": {"outcome": "violation", "comment": "not allowed"},
    "proctor-terminate": {"reason": "not allowed"},
    "proctoring-queue-pause": {},
    "proctoring-queue-resume": {},
    "proctoring-queue-test-frame": {"priority": "1"},
    "proctoring-queue-close-circuit": {},
    "proctoring-queue-failed-action": {"action": "clean", "hours": "0"},
}


def url_of(pattern: URLPattern, world: dict[str, Any]) -> str:
    name = str(pattern.name)
    values = {
        "slug": world["exam"].slug,
        "attempt_id": world["attempt"].pk,
        "incident_id": world["incident"].pk,
        # The dashboard names a stored frame by its job id; the queue's pages a queued job's.
        "job_id": world["snapshot"].job_id if name.startswith("proctor-") else world["queued"],
    }
    names = list(pattern.pattern.converters)
    assert set(names) <= set(values), f"{name} takes {names}: give this test a value for it"
    return reverse(name, kwargs={key: values[key] for key in names})


def requests() -> list[tuple[str, str]]:
    return [(str(pattern.name), "get") for pattern in PATTERNS] + [(name, "post") for name in POSTED]


@pytest.fixture
def world(exam: Exam, user: Any, redis_conn: Any) -> dict[str, Any]:
    return an_exam_with_everything(exam, user, redis_conn)


@pytest.fixture
def other_world(user: Any, redis_conn: Any) -> dict[str, Any]:
    return an_exam_with_everything(Exam.objects.create(slug="biology", title="Biology"), user, redis_conn)


def test_every_custom_url_is_walked():
    assert {pattern.name for pattern in PATTERNS} >= set(POSTED)
    assert len(PATTERNS) == len({pattern.name for pattern in PATTERNS}) >= 17


@pytest.mark.parametrize("name, method", requests())
def test_staff_with_no_permission_get_403_and_change_nothing(world, name, method):
    client = Client()
    client.force_login(bare_staff())
    [pattern] = [pattern for pattern in PATTERNS if pattern.name == name]
    response = getattr(client, method)(
        url_of(pattern, world), POSTED.get(name, {}) if method == "post" else None
    )
    assert response.status_code == 403, (name, method, response.status_code)
    world["incident"].refresh_from_db()
    assert world["incident"].review_status == "pending"
    connection = policy.get_queue().connection
    assert not is_suspended(connection)
    assert connection.llen(policy.get_queue().key) == 1  # no test frame, nothing retried or deleted
    assert connection.exists(f"rq:job:{world['queued']}")


def test_a_proctor_sees_and_reviews_only_their_exams(world, other_world):
    client = Client()
    client.force_login(proctor_of(world["exam"]))
    for of in (world, other_world):  # in progress: each action below is allowed in turn
        lifecycle.apply(of["attempt"], lifecycle.Action.BEGIN)
    listing = client.get(reverse("proctor-exams"))
    assert listing.status_code == 200
    assert "Algebra" in listing.content.decode() and "Biology" not in listing.content.decode()
    for pattern in live_urls.urlpatterns:
        if pattern.name == "proctor-exams":
            continue
        method = "post" if pattern.name in POSTED else "get"
        data = POSTED.get(str(pattern.name)) if method == "post" else None
        theirs = getattr(client, method)(url_of(pattern, other_world), data)
        refused = 403 if pattern.name in FORBIDDEN_NOT_HIDDEN else 404
        assert theirs.status_code == refused, (pattern.name, theirs.status_code)
        mine = getattr(client, method)(url_of(pattern, world), data)
        # The next unreviewed attempt is a redirect to its timeline.
        done = 302 if method == "post" or pattern.name == "proctor-review-next" else 200
        assert mine.status_code == done, (pattern.name, mine.status_code)
    other_world["incident"].refresh_from_db()
    world["incident"].refresh_from_db()
    other_world["attempt"].refresh_from_db()
    world["attempt"].refresh_from_db()
    assert (other_world["attempt"].status, world["attempt"].status) == ("in_progress", "terminated")
    assert not other_world["attempt"].messages.exists() and not other_world["attempt"].reviews.exists()
    assert other_world["incident"].review_status == "pending"
    assert world["incident"].review_status == "dismissed"


def test_a_proctor_without_the_queue_permission_sees_no_queue_page(world):
    client = Client()
    client.force_login(proctor_of(world["exam"]))
    for pattern in ops_urls.urlpatterns:
        assert client.get(url_of(pattern, world)).status_code == 403, pattern.name


def test_a_queue_viewer_reads_the_pages_but_acts_on_nothing(world):
    client = Client()
    client.force_login(operator(operate=False))
    for pattern in ops_urls.urlpatterns:
        if pattern.name in POSTED or pattern.name == "proctoring-queue-job-frame":
            continue
        assert client.get(url_of(pattern, world)).status_code == 200, pattern.name
    for name, data in POSTED.items():
        if name.startswith("proctoring-queue-"):
            assert client.post(reverse(name), data).status_code == 403, name
    assert not is_suspended(policy.get_queue().connection)


def test_a_frame_image_needs_the_queue_permission_and_its_exam(world, other_world):
    def frame_status(user: Any, of: dict[str, Any]) -> int:
        client = Client()
        client.force_login(user)
        return client.get(reverse("proctoring-queue-job-frame", args=[of["queued"]])).status_code

    viewer = operator(operate=False)
    assert frame_status(viewer, world) == 403  # figures and metadata, not faces
    world["exam"].proctors.add(viewer)
    assert frame_status(viewer, world) == 200
    assert frame_status(viewer, other_world) == 403
    assert frame_status(proctor_of(other_world["exam"], username="bio"), other_world) == 403  # no queue
    admin = superuser()
    assert frame_status(admin, other_world) == 200
    loose = enqueue.enqueue_frame("camera-1", "camera-1", 1, parse_image(jpeg_bytes(), 1 << 20))
    no_attempt = {"queued": loose}  # a load test's client: its frames are a superuser's to see
    assert (frame_status(admin, no_attempt), frame_status(viewer, no_attempt)) == (200, 403)
    job_page = Client()
    job_page.force_login(viewer)
    page = job_page.get(reverse("proctoring-queue-job", args=[other_world["queued"]])).content.decode()
    assert reverse("proctoring-queue-job-frame", args=[other_world["queued"]]) not in page


def test_snapshots_are_named_by_job_id_not_by_row_number(world):
    client = Client()
    client.force_login(proctor_of(world["exam"]))
    assert client.get(f"/proctor/frames/{world['snapshot'].pk}/snapshot").status_code == 404
    assert client.get(f"/proctor/frames/{world['snapshot'].job_id}/snapshot").status_code == 200


def test_the_sockets_refuse_staff_outside_their_role(world, other_world):
    proctor = proctor_of(world["exam"])
    events = "/ws/admin/proctoring/events/"

    def grid(of: dict[str, Any]) -> str:
        return f"/ws/proctor/exams/{of['exam'].slug}/"

    assert close_code(grid(world), session_headers(bare_staff())) == CloseCode.FORBIDDEN
    assert close_code(events, session_headers(bare_staff("nobody-else"))) == CloseCode.FORBIDDEN
    assert close_code(grid(other_world), session_headers(proctor)) == CloseCode.FORBIDDEN
    assert close_code(events, session_headers(proctor)) == CloseCode.FORBIDDEN
    assert close_code(grid(world), session_headers(operator())) == CloseCode.FORBIDDEN
    # Opened to the exam's own proctor: tests/integration/live/test_dashboard.py's socket tests;
    # to a queue viewer: tests/integration/live/test_events.py.
