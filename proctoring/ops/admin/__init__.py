"""The Django admin's queue pages, mounted under /admin/proctoring/queue/: views over the query
functions of `proctoring.ops`, whose actions call functions, never Redis directly."""
