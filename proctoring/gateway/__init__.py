"""The exam taker's side of the queue: the camera WebSocket consumer (validate, enqueue, ack: nothing
else on the frame path), who may stream for an attempt (sessions, signed tokens, origins), the
per-IP and per-attempt connection limits, the throttle advice sent back in acks, and the one
subscription per process that brings each socket its attempt's state and proctor messages
(`control`).

May import `results` (the attempt's state messages), `queue`, `store` and `core`; never `worker`,
`live`, `ops` (the gateway process loads no worker code)."""
