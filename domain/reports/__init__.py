"""Closing the day and the quarter: X and Z reports per outlet and business day, cash counts, and the
GST F5 figures of a company's period. Figures come from the ledger with set-based SQL (a handful of
aggregate statements per report, never a Python loop over sales).

| module | holds |
| --- | --- |
| periods | business days (Asia/Singapore), GST periods, amounts: parsing what a person types |
| figures | the figures of an outlet's day (X), and their difference from an issued Z |
| zreports | issuing a Z (once per outlet and day, numbered gap-free per outlet), cash counts |
| gst | GST F5 boxes 1, 2, 3, 4 and 6 of a period, and the sales behind each box |
"""
