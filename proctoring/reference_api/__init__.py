"""A reference implementation of the proctoring API contract, so development needs no outside service."""
