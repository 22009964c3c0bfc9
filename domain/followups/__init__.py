"""Follow-ups of committed sales: the outbox, reorder checks, loyalty points, receipts."""
