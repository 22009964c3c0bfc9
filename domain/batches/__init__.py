"""Batches: staging a file's requests, their states, the summary and reconciliation."""
