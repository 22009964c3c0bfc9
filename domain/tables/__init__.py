"""The ledger's tables. Rules that must always hold are database constraints, not only code; the
constraints that name the ledger's words are built from them (domain/vocabulary.py, `one_of`).

No relationships are mapped: every read is an explicit query, so nothing loads lazily after a commit.
Returns are stored signed (negative quantities and amounts), so a plain SUM nets sales and returns.

| module | tables |
| --- | --- |
| base | (the declarative base, column types, naming convention) |
| masterdata | companies, outlets, users, suppliers, products, customers |
| stock | stock_levels, stock_movements, stock_discrepancies |
| sales | sales, sale_lines, tenders (and the sale number sequence) |
| intake | batches, batch_tallies, sale_requests, heartbeats |
| followups | follow_ups, loyalty_entries, reorder_suggestions, receipts |
| web | web_deliveries (webhook deliveries kept for audit) |
| reports | z_reports (issued, immutable), cash_counts |
"""

from domain.tables.base import MONEY, NAMING, PRICE, QTY, RATE, Base, among, core_table, defaults_to_now, each_of
from domain.tables.followups import FollowUp, LoyaltyEntry, Receipt, ReorderSuggestion
from domain.tables.intake import Batch, BatchTally, Heartbeat, SaleRequestRow
from domain.tables.masterdata import Company, Customer, Outlet, Product, Supplier, User
from domain.tables.reports import CashCount, ZReport
from domain.tables.sales import Sale, SaleLine, Tender, sale_number
from domain.tables.stock import StockDiscrepancy, StockLevel, StockMovement
from domain.tables.web import WebDelivery

__all__ = [
    "MONEY",
    "NAMING",
    "PRICE",
    "QTY",
    "RATE",
    "Base",
    "Batch",
    "BatchTally",
    "CashCount",
    "Company",
    "Customer",
    "FollowUp",
    "Heartbeat",
    "LoyaltyEntry",
    "Outlet",
    "Product",
    "Receipt",
    "ReorderSuggestion",
    "Sale",
    "SaleLine",
    "SaleRequestRow",
    "StockDiscrepancy",
    "StockLevel",
    "StockMovement",
    "Supplier",
    "Tender",
    "User",
    "WebDelivery",
    "ZReport",
    "among",
    "core_table",
    "defaults_to_now",
    "each_of",
    "sale_number",
]
