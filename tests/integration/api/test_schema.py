"""The API against its own OpenAPI schema (issue 22, item 2): schemathesis generates calls from
/api/v1/schema and sends them in-process through the WSGI app, with a valid key (and, for
the checks that ask, without one); no answer is a 5xx and every answer matches the schema (its
status, content type and body). Bounded examples (API_SCHEMA_EXAMPLES per operation, 25 by
default): a property test, not a soak."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings

from proctoring.api import keys
from tests.integration.api.conftest import ApiClient, create


def in_test_transaction(handler):
    """The WSGI app, without closing the database connection after each request (which would end
    the test's transaction): what Django's own test client does."""

    def app(environ, start_response):
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            result = handler(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                result.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)

    return app


@pytest.fixture
def bearer(exam, settings):
    settings.PROCTORING_API_CALLS_PER_MINUTE = 100_000  # the generated calls, not the limit, are under test
    plaintext = keys.issue("schemathesis", exams=[exam]).plaintext
    # An attempt of the key's exam, so that generated ids sometimes reach a real one.
    create(ApiClient(plaintext), user="seeded", consented=True)
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.mark.django_db
def test_no_5xx_and_every_answer_matches_the_schema(bearer):
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema?format=json", in_test_transaction(get_wsgi_application())
    )
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=int(os.environ.get("API_SCHEMA_EXAMPLES", "25")),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def holds(case):
            case.call_and_validate(headers=bearer)

        holds()


def test_the_schema_and_its_docs_are_served_without_a_key_and_without_a_cdn(db):
    schema_answer = Client().get("/api/v1/schema?format=json")
    assert schema_answer.status_code == 200
    paths = schema_answer.json()["paths"]
    assert set(paths) == {
        "/api/v1/attempts/",
        "/api/v1/attempts/{attempt_id}/",
        "/api/v1/attempts/{attempt_id}/end/",
        "/api/v1/attempts/{attempt_id}/incidents/",
        "/api/v1/exams/{slug}/attempts/",
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{webhook_id}/",
    }
    assert schema_answer.json()["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    docs = Client().get("/api/v1/docs").content.decode()
    assert "swagger-ui" in docs and "/static/drf_spectacular_sidecar/" in docs
    assert "cdn" not in docs.lower() and "https://" not in docs
    # The page's scripts are static files of this site (collected by collectstatic).
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js") is not None
