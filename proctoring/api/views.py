"""The API's endpoints: parse, call `attempts` or the review queue, answer. Each call that
changes something is in the audit log under the key's name."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from proctoring.api import attempts, serializers, snapshot_links
from proctoring.api.authentication import key_of
from proctoring.api.errors import ApiError, Code, body
from proctoring.live import review
from proctoring.models import ApiKey, FrameResult, Incident, WebhookEndpoint
from proctoring.results import audit, snapshots
from proctoring.webhooks import endpoints as webhook_endpoints

ERRORS = {
    code: OpenApiResponse(serializers.ErrorAnswer, description=description)
    for code, description in [
        (400, "A field is invalid (`error.field` names it) or the body is not JSON."),
        (401, "No API key, or one that is unknown or revoked."),
        (429, "The key's calls per minute are spent; retry after `Retry-After` seconds."),
    ]
}
NOT_FOUND = {
    404: OpenApiResponse(
        serializers.ErrorAnswer, description="No such attempt among the key's exams, or page."
    )
}
OUT_OF_SCOPE = {
    403: OpenApiResponse(serializers.ErrorAnswer, description="The exam is not within the key's scope.")
}
CONFLICT = {
    409: OpenApiResponse(serializers.ErrorAnswer, description="The exam or attempt does not allow it now.")
}
ORDERINGS = {"-risk", "risk", "started_at", "-started_at"}
NO_PAGE = {404: OpenApiResponse(serializers.ErrorAnswer, description="No such page (past the last).")}
# Pages are numbered from 1; a page size past the largest is the largest.
PAGING = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1}),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1}, description="At most 200."),
]


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def actor(key: ApiKey) -> str:
    return f"api-key:{key.name}"


class AttemptsView(APIView):
    @extend_schema(
        operation_id="attempts_create",
        request=serializers.CreateAttemptRequest,
        responses={
            201: serializers.AttemptAnswer,
            200: OpenApiResponse(
                serializers.AttemptAnswer, description="The user's open attempt, unchanged."
            ),
            **ERRORS,
            **OUT_OF_SCOPE,
            **CONFLICT,
        },  # fmt: skip
        summary="Open an attempt for a platform's user (or find their open one)",
    )
    def post(self, request: Request) -> Response:
        key = key_of(request)
        given = serializers.CreateAttemptRequest(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        exam = attempts.exam_in_scope(key, data["exam"])
        opened = attempts.open_attempt(
            key, exam, data["external_user"], data["display_name"], consented=data["consented"]
        )
        if opened.created:
            audit.record(
                request._request, audit.Action.API_ATTEMPT_CREATED, opened.attempt,
                actor_name=actor(key), api_key=key.prefix, external_user=data["external_user"],
                consented=data["consented"],
            )  # fmt: skip
        answer = serializers.AttemptAnswer(attempts.facts(opened.attempt)).data
        return Response(answer, status=status.HTTP_201_CREATED if opened.created else status.HTTP_200_OK)


class AttemptView(APIView):
    @extend_schema(
        operation_id="attempts_read",
        responses={200: serializers.AttemptDetailAnswer, **ERRORS, **NOT_FOUND},
        summary="An attempt: state, times, deadline, risk summary, incident counts",
    )
    def get(self, request: Request, attempt_id: str) -> Response:
        attempt = attempts.attempt_in_scope(key_of(request), attempt_id)
        return Response(serializers.AttemptDetailAnswer(attempts.detail(attempt)).data)


class EndAttemptView(APIView):
    @extend_schema(
        operation_id="attempts_end",
        request=serializers.EndAttemptRequest,
        responses={200: serializers.AttemptAnswer, **ERRORS, **NOT_FOUND, **CONFLICT},
        summary="End an attempt: terminate it, or submit it with `submit: true`",
    )
    def post(self, request: Request, attempt_id: str) -> Response:
        key = key_of(request)
        attempt = attempts.attempt_in_scope(key, attempt_id)
        given = serializers.EndAttemptRequest(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        ended, changed = attempts.end(attempt, data["reason"], submit=data["submit"])
        if changed:
            audit.record(
                request._request, audit.Action.API_ATTEMPT_ENDED, ended,
                actor_name=actor(key), api_key=key.prefix, status=ended.status, reason=data["reason"][:200],
            )  # fmt: skip
        return Response(serializers.AttemptAnswer(attempts.facts(ended)).data)


class IncidentsView(APIView):
    @extend_schema(
        operation_id="attempts_incidents",
        parameters=PAGING,
        responses={200: serializers.IncidentPage, **ERRORS, **NOT_FOUND},
        summary="An attempt's incidents, each with a short-lived signed link to its snapshot",
    )
    def get(self, request: Request, attempt_id: str) -> Response:
        key = key_of(request)
        attempt = attempts.attempt_in_scope(key, attempt_id)
        found = (
            Incident.objects.filter(attempt=attempt).select_related("snapshot").order_by("first_seen", "pk")
        )
        pages = Pages()
        page = pages.paginate_queryset(found, request, view=self) or []
        return pages.get_paginated_response([_incident(incident, key) for incident in page])


class ReviewQueueView(APIView):
    @extend_schema(
        operation_id="exams_review_queue",
        parameters=[
            OpenApiParameter("ordering", str, enum=sorted(ORDERINGS), description="Default: -risk."),
            *PAGING,
        ],
        responses={200: serializers.QueuePage, **ERRORS, **OUT_OF_SCOPE, **NO_PAGE},
        summary="The exam's review queue: its attempts, riskiest first",
    )
    def get(self, request: Request, slug: str) -> Response:
        exam = attempts.exam_in_scope(key_of(request), slug)
        ordering = request.query_params.get("ordering", "-risk")
        if ordering not in ORDERINGS:
            raise ApiError(400, Code.INVALID, f"ordering must be one of {sorted(ORDERINGS)}", "ordering")
        entries = review.queue(exam)
        field = ordering.lstrip("-")
        if field == "started_at":
            entries.sort(key=lambda entry: entry.attempt.started_at, reverse=ordering.startswith("-"))
        elif ordering == "risk":
            entries.reverse()
        pages = Pages()
        page: list[review.Entry] = pages.paginate_queryset(entries, request, view=self) or []  # type: ignore[arg-type]
        ids = attempts.external_ids([entry.attempt.user_id for entry in page])
        return pages.get_paginated_response([_queue_entry(entry, ids) for entry in page])


def _incident(incident: Incident, key: ApiKey) -> dict[str, Any]:
    frame = incident.snapshot
    link = snapshot_links.make(frame.job_id, key.pk) if frame is not None and frame.snapshot_key else None
    return serializers.IncidentAnswer(
        {
            "id": incident.pk,
            "kind": incident.kind,
            "severity": incident.severity,
            "first_seen": incident.first_seen,
            "last_seen": incident.last_seen,
            "frame_count": incident.frame_count,
            "review_status": incident.review_status,
            "reviewed_at": incident.reviewed_at,
            "closed": incident.closed_at is not None,
            "closed_at": incident.closed_at,
            "snapshot_url": link.url if link else None,
            "snapshot_expires_at": link.expires_at if link else None,
        }
    ).data


def _queue_entry(entry: review.Entry, external_ids: dict[int, str]) -> dict[str, Any]:
    attempt = entry.attempt
    return serializers.QueueEntryAnswer(
        {
            "id": attempt.pk,
            "external_user": external_ids.get(attempt.user_id),
            "display_name": attempt.user.first_name,
            "status": attempt.status,
            "started_at": attempt.started_at,
            "ended_at": attempt.ended_at,
            "risk": entry.priority,
            "no_face_percent": entry.no_face_percent,
            "pending_incidents": entry.signals.pending,
            "proctor_flags": entry.signals.flags,
            "review": (
                {"outcome": entry.review.outcome, "reviewed_at": entry.review.reviewed_at}
                if entry.review
                else None
            ),
        }
    ).data


class WebhooksView(APIView):
    @extend_schema(
        operation_id="webhooks_list",
        responses={200: serializers.WebhookList, **ERRORS},
        summary="The webhook endpoints this key registered",
    )
    def get(self, request: Request) -> Response:
        found = webhook_endpoints.of_key(key_of(request))
        return Response(serializers.WebhookList({"results": [_webhook(e) for e in found]}).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=serializers.CreateWebhookRequest,
        responses={
            201: serializers.CreatedWebhookAnswer,
            **ERRORS,
            409: OpenApiResponse(
                serializers.ErrorAnswer, description="The key has PROCTORING_WEBHOOKS_PER_KEY endpoints."
            ),
        },
        summary="Register a webhook endpoint for this key's exams; its secret is in this answer only",
    )
    def post(self, request: Request) -> Response:
        key = key_of(request)
        given = serializers.CreateWebhookRequest(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            made = webhook_endpoints.register(
                data["url"], data["event_types"], owner=key, description=data["description"]
            )
        except webhook_endpoints.InvalidEndpoint as exc:
            raise ApiError(400, Code.INVALID, str(exc), exc.field) from None
        except webhook_endpoints.TooMany as exc:
            raise ApiError(409, Code.TOO_MANY_WEBHOOKS, str(exc)) from None
        endpoint = made.endpoint
        audit.record(
            request._request, audit.Action.WEBHOOK_CREATED, endpoint,
            actor_name=actor(key), api_key=key.prefix, url=endpoint.url, event_types=endpoint.event_types,
        )  # fmt: skip
        answer = serializers.CreatedWebhookAnswer({**_webhook(endpoint), "secret": made.secret}).data
        return Response(answer, status=status.HTTP_201_CREATED)


class WebhookView(APIView):
    @extend_schema(
        operation_id="webhooks_delete",
        responses={
            204: OpenApiResponse(description="Removed, with its deliveries."),
            **ERRORS,
            404: OpenApiResponse(serializers.ErrorAnswer, description="No such endpoint of this key."),
        },
        summary="Remove one of this key's webhook endpoints",
    )
    def delete(self, request: Request, webhook_id: str) -> Response:
        key = key_of(request)
        endpoint = webhook_endpoints.find_of_key(key, webhook_id)
        if endpoint is None:
            raise ApiError(404, Code.NOT_FOUND, "no such webhook endpoint of this API key")
        audit.record(
            request._request, audit.Action.WEBHOOK_DELETED, endpoint,
            actor_name=actor(key), api_key=key.prefix, url=endpoint.url,
        )  # fmt: skip
        endpoint.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


def _webhook(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "active": endpoint.is_active,
        "disabled_at": endpoint.disabled_at,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
    }


class NotFoundView(APIView):
    """Any other path under /api/v1/: 404 in the API's shape, not Django's page."""

    schema = None  # not an endpoint
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []

    def get(self, request: Request, rest: str = "") -> Response:
        raise ApiError(404, Code.NOT_FOUND, "no such endpoint; see /api/v1/docs")

    post = put = patch = delete = get


@require_GET
def snapshot(request: HttpRequest, signed: str) -> HttpResponse:
    """A snapshot's image through a signed link: no key or session, the link is the permission."""
    try:
        claims = snapshot_links.read(signed)
    except snapshot_links.InvalidLink as exc:
        return JsonResponse(body(Code.NOT_FOUND, str(exc)), status=404)
    frame = FrameResult.objects.select_related("attempt__exam").filter(job_id=claims.job_id).first()
    key = ApiKey.objects.filter(pk=claims.key_id, revoked_at__isnull=True).first()
    found = snapshots.read(frame.snapshot_key) if frame is not None and key is not None else None
    if found is None or key is None or frame is None:
        return JsonResponse(body(Code.NOT_FOUND, "no such snapshot (purged, or the key revoked)"), status=404)
    audit.record(request, audit.Action.SNAPSHOT_VIEWED, frame, actor_name=actor(key), via="signed link")
    response = HttpResponse(found[0], content_type=found[1])
    response["Cache-Control"] = "private, no-store"  # personal data: never in a shared cache
    return response
