"""The exam taker's side of the queue: the camera WebSocket consumer (validate, enqueue, ack:
nothing else), who may stream for an attempt (sessions, signed tokens, origins), the per-IP and
per-attempt connection limits, and the throttle advice sent back in acks.

May import `queue`, `store` and `core`; never `worker`, `live`, `ops` (the gateway process
loads no worker code)."""
