"""Management commands: `proctoring_token` for camera clients and `seed_demo` for a first run."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from exams.models import Attempt, Exam
from exams.services import end_attempt
from proctoring.gateway.tokens import read_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(command: str, *args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, **options)
    return out.getvalue()


def token_for(*args: str, **options: Any) -> dict[str, Any]:
    options.setdefault("consented", True)
    output = run("proctoring_token", *args, **options)
    assert output.count("\n") <= 1 and output.strip(), f"expected one line, got {output!r}"
    answer: dict[str, Any] = json.loads(output)
    return answer


# --- proctoring_token ---------------------------------------------------------------------------


def test_token_prints_attempt_client_and_ws_path_as_one_json_line(user, exam):
    answer = token_for(user.username, exam.slug)
    attempt = Attempt.objects.get(user=user, exam=exam)
    assert answer["attempt_id"] == str(attempt.pk)
    assert answer["client_id"] == attempt.client_id
    path = urlsplit(answer["ws_path"])
    assert path.path == f"/ws/proctoring/{attempt.pk}/"
    assert list(parse_qs(path.query)) == ["token"]


def test_token_in_ws_path_is_genuine_and_bound_to_the_attempt(user, exam):
    answer = token_for(user.username, exam.slug)
    [token] = parse_qs(urlsplit(answer["ws_path"]).query)["token"]
    claims = read_token(token, settings.PROCTORING_TOKEN_MAX_AGE)
    assert claims.attempt_id == answer["attempt_id"]
    assert claims.user_id == user.pk


def test_a_token_for_an_attempt_without_consent_is_a_command_error(user, exam):
    with pytest.raises(CommandError, match="--consented"):
        run("proctoring_token", user.username, exam.slug)


def test_consented_records_consent_and_a_consented_attempt_needs_no_flag(user, exam):
    first = token_for(user.username, exam.slug, consented=True)
    assert Attempt.objects.get(pk=first["attempt_id"]).consented_at is not None
    again = token_for(user.username, exam.slug, consented=False)
    assert again["attempt_id"] == first["attempt_id"]


def test_socket_path_carries_no_token(user, exam):
    answer = token_for(user.username, exam.slug)
    assert answer["socket_path"] == f"/ws/proctoring/{answer['attempt_id']}/"


def test_create_makes_the_user_and_the_exam(db):
    answer = token_for("newcomer", "final-exam", create=True)
    user = get_user_model().objects.get(username="newcomer")
    exam = Exam.objects.get(slug="final-exam")
    assert exam.title == "Final Exam"
    assert Attempt.objects.get(pk=answer["attempt_id"]).user == user
    assert Attempt.objects.get(pk=answer["attempt_id"]).exam == exam


def test_create_uses_an_existing_user_and_exam(user, exam):
    answer = token_for(user.username, exam.slug, create=True)
    assert get_user_model().objects.count() == 1
    assert Exam.objects.count() == 1
    assert Attempt.objects.get(pk=answer["attempt_id"]).user == user


def test_missing_user_without_create_is_a_command_error(exam):
    with pytest.raises(CommandError, match="'nobody'"):
        run("proctoring_token", "nobody", exam.slug)
    assert not get_user_model().objects.filter(username="nobody").exists()
    assert not Attempt.objects.exists()


def test_missing_exam_without_create_is_a_command_error(user):
    with pytest.raises(CommandError, match="'no-such-exam'"):
        run("proctoring_token", user.username, "no-such-exam")
    assert not Exam.objects.exists()
    assert not Attempt.objects.exists()


def test_running_twice_resumes_the_same_open_attempt(user, exam):
    first = token_for(user.username, exam.slug)
    second = token_for(user.username, exam.slug)
    assert second["attempt_id"] == first["attempt_id"]
    assert Attempt.objects.count() == 1


def test_ended_attempt_is_not_resumed(attempt):
    attempt.exam.attempts_allowed = 2
    attempt.exam.save()
    end_attempt(attempt)
    answer = token_for(attempt.user.username, attempt.exam.slug)
    assert answer["attempt_id"] != str(attempt.pk)


def test_closed_exam_is_a_command_error(user, exam):
    exam.is_active = False
    exam.save()
    with pytest.raises(CommandError, match="not open"):
        run("proctoring_token", user.username, exam.slug)
    assert not Attempt.objects.exists()


# --- seed_demo ----------------------------------------------------------------------------------


def test_seed_demo_creates_the_exam_and_an_account_per_role(db):
    run("seed_demo")
    exam = Exam.objects.get(slug="demo-exam")
    assert exam.is_active
    users = get_user_model().objects
    student, proctor = users.get(username="student"), users.get(username="proctor")
    operator, admin = users.get(username="operator"), users.get(username="admin")
    assert not student.is_staff
    assert proctor.is_staff and not proctor.is_superuser
    assert list(exam.proctors.all()) == [proctor]
    assert not proctor.has_perm("proctoring.view_queue")
    assert operator.is_staff and not operator.is_superuser
    assert operator.has_perm("proctoring.view_queue") and operator.has_perm("proctoring.operate_queue")
    assert not operator.proctored_exams.exists()
    assert admin.is_superuser
    for account in (student, proctor, operator, admin):
        assert account.check_password(f"{account.username}-demo-pass")


def test_seed_demo_prints_the_credentials(db):
    output = run("seed_demo")
    for username in ("student", "proctor", "operator", "admin"):
        assert f"{username} / {username}-demo-pass" in output


def test_seed_demo_is_idempotent_and_keeps_changed_passwords(db):
    run("seed_demo")
    student = get_user_model().objects.get(username="student")
    student.set_password("changed-by-the-student")
    student.save()

    output = run("seed_demo")

    assert Exam.objects.filter(slug="demo-exam").count() == 1
    assert get_user_model().objects.count() == 4
    assert Exam.objects.get(slug="demo-exam").proctors.count() == 1
    assert "password unchanged" in output
    student.refresh_from_db()
    assert student.check_password("changed-by-the-student")


def test_seed_demo_gives_the_demo_exam_a_question_of_each_kind_once(db):
    run("seed_demo")
    run("seed_demo")
    exam = Exam.objects.get(slug="demo-exam")
    assert exam.duration_minutes == 20
    questions = list(exam.questions.all())
    assert [q.kind for q in questions] == ["single", "multiple", "text"]
    for question in questions[:2]:
        assert question.choices.filter(is_correct=True).exists()
        assert question.choices.filter(is_correct=False).exists()
