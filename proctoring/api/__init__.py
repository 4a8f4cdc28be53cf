"""The REST API under /api/v1/ (Django REST framework, OpenAPI by drf-spectacular): how another
exam platform opens attempts, hands their candidates a camera, ends them and reads incidents and
the review queue, with an API key (`keys`). A top layer beside gateway, worker, live and ops: it
may import results, queue, store and core, and exams; nothing below imports it.

docs/integration.md is its guide; the error shape and codes are `errors`'.
"""
