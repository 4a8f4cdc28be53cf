"""/healthz and /readyz: what load balancers and orchestrators probe, by address, over plain HTTP,
without logging in."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from tests.support import free_port


def test_healthz_answers_without_touching_redis_or_the_database(client, settings):
    # No django_db mark: any database query here would fail the test.
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_is_ready_when_redis_and_the_database_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"redis": "ok", "database": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_nothing_listens_there(client, settings):
    port = free_port()
    settings.REDIS_URL = f"redis://:probe-secret-pw@127.0.0.1:{port}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "failed: ConnectionError"
    # Neither the password nor where Redis is: the body is for anyone who can reach the port.
    text = response.content.decode()
    assert "probe-secret-pw" not in text and str(port) not in text


def test_readyz_is_503_naming_the_database_when_it_cannot_be_opened(client, transactional_db, tmp_path):
    name = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
    assert response.status_code == 503
    assert response.json()["checks"] == {"redis": "ok", "database": "failed: OperationalError"}
    assert str(tmp_path) not in response.content.decode()


@pytest.mark.django_db
def test_readyz_logs_a_failing_check_once_and_its_recovery_once(client, settings, caplog):
    assert client.get("/readyz").status_code == 200  # whatever earlier tests left failing passes
    caplog.clear()
    healthy = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    for _ in range(3):
        assert client.get("/readyz").status_code == 503
    settings.REDIS_URL = healthy
    for _ in range(2):
        assert client.get("/readyz").status_code == 200
    lines = [
        record.getMessage() for record in caplog.records if record.name.startswith(("proctoring", "django"))
    ]
    assert len(lines) == 2, lines
    assert lines[0].startswith("readyz: the redis check failed: ConnectionError")
    assert lines[1] == "readyz: the redis check passes again"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_by_address_over_plain_http_are_answered_not_refused_or_redirected(client, settings, path):
    settings.ALLOWED_HOSTS = ["exams.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(path, HTTP_HOST="10.0.0.7:8001").status_code == 200
    # The control: any other page from that address is refused.
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.7:8001").status_code != 200


def test_probes_answer_get_and_head_only(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_probes_are_in_the_url_map():
    assert (reverse("healthz"), reverse("readyz")) == ("/healthz", "/readyz")
