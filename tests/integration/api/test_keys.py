"""API keys (issue 22, item 1): hashed, shown once, scoped, revocable, use recorded at most once a
minute; made by the command and the admin, both audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from exams.models import Exam
from proctoring.api import keys
from proctoring.models import ApiKey, AuditEntry

pytestmark = pytest.mark.django_db


def test_only_the_secrets_hash_is_stored_and_the_key_authenticates(exam):
    issued = keys.issue("moodle", exams=[exam])
    assert issued.plaintext.startswith(f"pk_{issued.key.prefix}_")
    secret = issued.plaintext.split("_", 2)[2]
    stored = ApiKey.objects.get()
    assert stored.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.values().get())
    assert keys.authenticate(issued.plaintext) == stored
    assert keys.authenticate(issued.plaintext[:-1] + ("A" if issued.plaintext[-1] != "A" else "B")) is None
    assert keys.authenticate("pk_00000000_" + secret) is None
    assert keys.authenticate("nonsense") is None


def test_a_revoked_key_is_refused(exam):
    issued = keys.issue("moodle", exams=[exam])
    assert keys.revoke(issued.key) is True
    assert keys.revoke(issued.key) is False
    assert keys.authenticate(issued.plaintext) is None


def test_last_use_is_written_at_most_once_a_minute(exam):
    issued = keys.issue("moodle", exams=[exam])
    keys.authenticate(issued.plaintext)
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    keys.authenticate(issued.plaintext)
    assert ApiKey.objects.get().last_used_at == first
    ApiKey.objects.update(last_used_at=timezone.now() - timedelta(minutes=2))
    keys.authenticate(issued.plaintext)
    later = ApiKey.objects.get().last_used_at
    assert later is not None and later > first


def test_the_scope_is_what_was_given_and_empty_reaches_nothing(exam):
    other = Exam.objects.create(slug="history", title="History")
    scoped = keys.issue("a", exams=[exam]).key
    empty = keys.issue("b").key
    everything = keys.issue("c", all_exams=True).key
    assert keys.reaches(scoped, exam) and not keys.reaches(scoped, other)
    assert not keys.reaches(empty, exam)
    assert keys.reaches(everything, other)


def test_the_command_prints_the_key_last_and_audits_it(exam, capsys):
    call_command("proctoring_api_key", "Canvas prod", "--exam", "algebra")
    lines = capsys.readouterr().out.strip().splitlines()
    key = keys.authenticate(lines[-1])
    assert key is not None and key.name == "Canvas prod" and key.platform == "canvas-prod"
    assert list(key.exams.all()) == [exam] and not key.all_exams
    entry = AuditEntry.objects.get(action=AuditEntry.Action.API_KEY_CREATED)
    assert entry.target_id == str(key.pk) and entry.detail["exams"] == ["algebra"]
    assert lines[-1] not in str(entry.detail)


def test_the_command_refuses_an_unknown_exam(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nope"):
        call_command("proctoring_api_key", "x", "--exam", "nope")
    assert not ApiKey.objects.exists()


def test_the_admin_shows_a_new_key_once_and_revokes_audited(exam):
    admin = get_user_model().objects.create_superuser("root", password="root-pass-123")
    browser = Client()
    browser.force_login(admin)
    answer = browser.post(
        "/admin/proctoring/apikey/add/", {"name": "Open edX", "platform": "", "exams": [exam.pk]}, follow=True
    )
    assert answer.status_code == 200
    shown = [str(m) for m in answer.context["messages"]]
    plaintext = next(m for m in shown if "shown this once" in m).rsplit(" ", 1)[1]
    key = keys.authenticate(plaintext)
    assert key is not None and key.created_by == admin and key.platform == "open-edx"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.API_KEY_CREATED, actor=admin).exists()
    listing = browser.get("/admin/proctoring/apikey/")
    assert key.prefix in listing.content.decode() and plaintext not in listing.content.decode()
    browser.post("/admin/proctoring/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert keys.authenticate(plaintext) is None
    assert AuditEntry.objects.filter(action=AuditEntry.Action.API_KEY_REVOKED, target_id=str(key.pk)).exists()
