"""Every task's name, said once: the tasks are declared with them, tasks/messages.py sends to them,
and celeryconfig.task_routes routes each to its queue. Names of messages that may be in flight
keep their spelling; a renamed one is listed with its old name below."""

POST_REQUESTS = "tasks.posting.post_requests"
# Was "tasks.posting.post_batch_range" (so that the old wildcard route sent it to "posting"). A message
# still queued under the old name is refused as unregistered; its requests stay PENDING in PostgreSQL
# and the sweeper sends them again.
POST_BATCH_RANGE = "tasks.batches.post_batch_range"
FOLLOW_UPS = "tasks.followups.every_follow_up"
DRAIN_FOLLOW_UPS = "tasks.followups.drain_follow_ups"
REORDER = "tasks.followups.reorder"
LOYALTY = "tasks.followups.loyalty"
CUSTOMER_RECEIPTS = "tasks.followups.receipts"
SWEEP = "tasks.sweeper.sweep"

QUEUES = {
    POST_REQUESTS: "posting",
    POST_BATCH_RANGE: "posting",
    FOLLOW_UPS: "followups",
    DRAIN_FOLLOW_UPS: "followups",
    REORDER: "followups",
    LOYALTY: "followups",
    CUSTOMER_RECEIPTS: "followups",
    SWEEP: "sweeper",
}
