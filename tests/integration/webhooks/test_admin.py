"""The admin's webhook pages: an endpoint made there gets a secret shown once; the deliveries
list shows how each went; "redeliver" sends one again under its id, audited, and only for
those given its permission."""

from __future__ import annotations

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from exams import lifecycle
from exams.models import Attempt
from proctoring.models import AuditEntry, WebhookDelivery, WebhookEndpoint
from proctoring.webhooks import delivery, events
from tests.integration.webhooks.conftest import sent
from tests.support import Reply

pytestmark = pytest.mark.django_db

LIST = "/admin/proctoring/webhookdelivery/"


@pytest.fixture
def failed(attempt: Attempt, everything: WebhookEndpoint, receiver, django_capture_on_commit_callbacks):
    """A delivery that failed its one attempt (no retries configured)."""
    receiver.script(Reply(500, b"receiver exploded"))
    Attempt.objects.filter(pk=attempt.pk).update(consented_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply(attempt, lifecycle.Action.BEGIN)
    [made] = sent()
    return made


def test_an_endpoint_made_in_the_admin_shows_its_secret_once_then_masked(staff_client):
    answer = staff_client.post(
        "/admin/proctoring/webhookendpoint/add/",
        {"url": "https://lms.example.org/hook", "event_types": [events.ATTEMPT_ENDED], "description": "lms"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.owner is None
    assert endpoint.event_types == [events.ATTEMPT_ENDED]
    assert endpoint.secret in answer.content.decode()
    change = staff_client.get(f"/admin/proctoring/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in change and endpoint.secret[:10] + "…" in change
    assert AuditEntry.objects.filter(action=AuditEntry.Action.WEBHOOK_CREATED, actor_username="ops").exists()


def test_an_insecure_url_is_refused_by_the_admins_form(staff_client, settings):
    settings.PROCTORING_WEBHOOK_ALLOW_HTTP = False
    answer = staff_client.post(
        "/admin/proctoring/webhookendpoint/add/",
        {"url": "http://lms.example.org/hook", "event_types": [events.ATTEMPT_ENDED]},
    )
    assert answer.status_code == 200 and "use https://" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_deliveries_list_shows_status_code_attempts_and_the_answer(failed, staff_client, settings):
    settings.PROCTORING_WEBHOOK_RETRY_DELAYS = ()
    assert delivery.deliver(failed.pk, 1) == WebhookDelivery.Status.FAILED
    page = staff_client.get(LIST, {"status": "failed"}).content.decode()
    assert "attempt.started" in page and "receiver exploded" in page and ">500<" in page
    assert "receiver exploded" not in staff_client.get(LIST, {"status": "delivered"}).content.decode()


def test_redeliver_sends_again_under_the_same_id_and_is_audited(
    failed, staff_client, redis_conn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(LIST, {"action": "redeliver", "_selected_action": [failed.pk]})
    again = WebhookDelivery.objects.exclude(pk=failed.pk).get()
    assert (again.redelivery_of_id, again.event_id, again.payload) == (
        failed.pk,
        failed.event_id,
        failed.payload,
    )
    assert again.status == WebhookDelivery.Status.PENDING
    assert delivery.job_id(again.pk, 1) in django_rq.get_queue(delivery.QUEUE).job_ids
    entry = AuditEntry.objects.get(action=AuditEntry.Action.WEBHOOK_REDELIVERED)
    assert (entry.actor_username, entry.target_id, entry.outcome) == ("ops", str(failed.pk), "ok")
    assert entry.detail["new_delivery"] == again.pk


def test_redeliver_needs_its_permission(failed, client):
    viewer = get_user_model().objects.create_user("viewer", password="viewer-pass-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(viewer)
    page = client.get(LIST).content.decode()
    assert "attempt.started" in page and "redeliver" not in page
    client.post(LIST, {"action": "redeliver", "_selected_action": [failed.pk]})
    assert WebhookDelivery.objects.count() == 1
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.WEBHOOK_REDELIVERED).exists()
    viewer.user_permissions.add(Permission.objects.get(codename="redeliver_webhookdelivery"))
    client.post(LIST, {"action": "redeliver", "_selected_action": [failed.pk]})
    assert WebhookDelivery.objects.count() == 2


def test_a_disabled_endpoint_is_enabled_before_its_deliveries_are_sent_again(
    failed, everything, staff_client
):
    WebhookEndpoint.objects.filter(pk=everything.pk).update(
        disabled_at=failed.created_at, disabled_reason="x"
    )
    staff_client.post(LIST, {"action": "redeliver", "_selected_action": [failed.pk]})
    assert WebhookDelivery.objects.count() == 1
    assert AuditEntry.objects.get(action=AuditEntry.Action.WEBHOOK_REDELIVERED).outcome == "error"
    staff_client.post(
        "/admin/proctoring/webhookendpoint/", {"action": "enable", "_selected_action": [everything.pk]}
    )
    assert WebhookEndpoint.objects.get(pk=everything.pk).is_active
    assert AuditEntry.objects.filter(action=AuditEntry.Action.WEBHOOK_ENABLED).exists()
    staff_client.post(LIST, {"action": "redeliver", "_selected_action": [failed.pk]})
    assert WebhookDelivery.objects.count() == 2
