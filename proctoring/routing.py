"""WebSocket URLs."""

from channels.auth import AuthMiddlewareStack
from django.urls import re_path

from proctoring.gateway.auth import camera_auth
from proctoring.gateway.consumers import FrameConsumer
from proctoring.live.consumers import DashboardConsumer
from proctoring.live.event_stream import JobEventsConsumer

websocket_urlpatterns = [
    # Any id shape routes here, so a bad one gets the protocol's refusal rather than a dropped socket.
    re_path(r"^ws/proctoring/(?P<attempt_id>[^/]+)/$", camera_auth(FrameConsumer.as_asgi())),
    re_path(r"^ws/admin/proctoring/events/$", AuthMiddlewareStack(JobEventsConsumer.as_asgi())),
    re_path(
        r"^ws/proctor/exams/(?P<slug>[-a-zA-Z0-9_]+)/$", AuthMiddlewareStack(DashboardConsumer.as_asgi())
    ),
]
