"""Posting one sale request: the request, its prices, returns, stock, and the decision."""
