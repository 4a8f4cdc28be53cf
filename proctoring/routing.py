"""WebSocket URLs."""

from django.urls import re_path

from proctoring.consumers import FrameConsumer

websocket_urlpatterns = [
    # Any id shape routes here, so a bad one gets the protocol's refusal rather than a dropped socket.
    re_path(r"^ws/proctoring/(?P<attempt_id>[^/]+)/$", FrameConsumer.as_asgi()),
]
