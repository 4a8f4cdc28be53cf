"""What an operator uses today: `rqstats` and django-rq's admin dashboard, on the configured Redis."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from proctoring.core.frames import parse_image
from proctoring.queue import enqueue
from tests.support import jpeg_bytes

pytestmark = pytest.mark.django_db


def test_rqstats_json_counts_the_proctoring_queue(attempt, capsys):
    frame = parse_image(jpeg_bytes(), 1 << 20)
    for seq in (1, 2):
        enqueue.enqueue_frame(str(attempt.pk), str(attempt.pk), seq, frame)
    call_command("rqstats", "--json")  # django-rq's command prints with print()
    queues = {queue["name"]: queue for queue in json.loads(capsys.readouterr().out)["queues"]}
    assert set(queues) == {"proctoring", "exams", "webhooks"}  # the frames' queue and the background ones
    assert queues["proctoring"]["jobs"] == 2


def test_staff_sees_django_rq_dashboard_and_others_do_not(client, attempt):
    enqueue.enqueue_frame(str(attempt.pk), str(attempt.pk), 1, parse_image(jpeg_bytes(), 1 << 20))
    assert client.get("/admin/django_rq/dashboard/").status_code == 302  # to the admin login
    staff = get_user_model().objects.create_user(
        "ops", password="ops-pass-123", is_staff=True, is_superuser=True
    )
    client.force_login(staff)
    response = client.get("/admin/django_rq/dashboard/")
    assert response.status_code == 200
    assert b"proctoring" in response.content


def test_worker_command_runs_the_scheduler_by_default():
    from proctoring.management.commands.rqworker import Command

    parser = Command().create_parser("manage.py", "rqworker")
    assert parser.parse_args(["proctoring"]).without_scheduler is False
    assert parser.parse_args(["proctoring", "--without-scheduler"]).without_scheduler is True
