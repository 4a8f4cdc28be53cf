"""LTI 1.3: how a learning platform (Moodle, Canvas, Blackboard) sends its users to an exam. An
OIDC login starts a launch, the platform posts back a signed id_token, and a verified
resource-link launch logs its user in (a platform user of the issuer, as the API's are) and opens
or continues their attempt at the linked exam. PyLTI1p3 validates the launch; `models` holds the
registered platforms, the links set by hand and the tool's keys.

The top layer: it may import the API (whose platform users it shares) and everything below it,
and exams; nothing imports it. docs/integration.md ("LTI 1.3") is its guide.
"""
