"""Webhooks: what a platform hears without asking. Endpoints (a URL, a secret, the event types
wanted; registered in the admin or through the API) are sent `attempt.started`,
`attempt.ended`, `incident.opened`, `incident.closed` and `incident.reviewed`, each signed per
the Standard Webhooks convention and delivered, with retries, by jobs on the `webhooks` queue
(`manage.py backgroundworker`), never by a frame's worker thread.

`events` turns committed changes (`exams.lifecycle.attempt_changed`, `results.incidents
.incident_changed`) into deliveries, `signing` signs them, `delivery` sends them (the job),
`disabling` gives up on an endpoint failing for a day, and `endpoints` registers endpoints and
sends a delivery again. It may import `results` and everything below it;
the API (above it) registers endpoints through it.
"""
