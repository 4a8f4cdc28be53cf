"""Staff revoke a camera token by ending its attempt from the admin (issue 18, finding 8)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry

from exams.models import Attempt
from proctoring.core.protocol import CloseCode
from proctoring.gateway.tokens import make_token
from tests.communicators import close_code, token_path

pytestmark = pytest.mark.django_db(transaction=True)


def test_ending_attempts_in_the_admin_revokes_their_tokens_and_is_recorded(
    admin_client: Any, attempt: Attempt
) -> None:
    token = make_token(attempt)
    response = admin_client.post(
        "/admin/exams/attempt/", {"action": "end_attempts", "_selected_action": [str(attempt.pk)]}
    )
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.ended_at is not None
    assert close_code(token_path(attempt, token)) == CloseCode.FORBIDDEN
    entry = LogEntry.objects.get(object_id=str(attempt.pk))
    assert "revoked" in entry.get_change_message()
