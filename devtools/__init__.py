"""Developer tools behind `make run` / `make test`: they never import the Django project
(so the environment they pass on is exactly the caller's)."""
