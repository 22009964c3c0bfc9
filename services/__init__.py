"""Use cases: each opens and commits its own transaction(s) through `Database`, with one retry
policy for transient faults. Domain rules below never commit; tasks and front-ends above never
open a session."""
