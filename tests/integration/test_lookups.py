"""Lookups by a code that is unique only within a company never guess which company was meant."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from domain.followups.receipts import store_receipts
from domain.tables import Customer
from tests.batch_support import tillpost
from tests.followup_support import follow_up, post, transaction_number
from tests.shop import make_shop, receive_one, sale


@pytest.fixture
def two_companies(sessions):
    """ACME and BETA each sold a request "S-1" and each have a customer "C001" (BETA's has 7 points)."""
    with sessions.begin() as s:
        make_shop(s, "ACME")
        beta = make_shop(s, "BETA")
        s.execute(update(Customer).where(Customer.company_id == beta.company_id).values(points=7))
    acme_sale = post(sessions, sale("S-1", [("TEA", "1")], [("CASH", "4.50")]))
    post(sessions, sale("S-1", [("TEA", "2")], [("CASH", "9.00")], outlet="BETA-ORCH"))
    follow_up(sessions, lambda s, ids: store_receipts(s, ids) or 0, [acme_sale])
    return transaction_number(sessions, acme_sale)


def _refused_naming_both_companies(result) -> None:
    assert result.returncode == 2, result.stderr
    assert "ACME" in result.stderr and "BETA" in result.stderr and "--company" in result.stderr
    assert result.stdout == ""


def test_sale_show_refuses_to_guess_between_companies_and_shows_the_one_named(pipeline_env, two_companies):
    # When a request id both companies used is shown without a company
    # Then it is refused, naming both
    _refused_naming_both_companies(tillpost(pipeline_env, "sale", "show", "S-1"))

    # And with --company each company's own sale is shown
    for company, total in (("ACME", "4.50"), ("BETA", "9.00")):
        shown = tillpost(pipeline_env, "sale", "show", "S-1", "--company", company, "--json")
        assert shown.returncode == 0, shown.stderr
        assert (json.loads(shown.stdout)["outcome"], json.loads(shown.stdout)["total"]) == ("POSTED", total)


def test_customer_show_refuses_to_guess_between_companies_and_shows_the_one_named(pipeline_env, two_companies):
    _refused_naming_both_companies(tillpost(pipeline_env, "customer", "show", "C001"))

    shown = tillpost(pipeline_env, "customer", "show", "C001", "--company", "BETA", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["points"] == 7


def test_a_code_unknown_in_the_named_company_is_not_found(pipeline_env, two_companies):
    assert tillpost(pipeline_env, "customer", "show", "C404", "--company", "ACME").returncode == 1
    unknown_company = tillpost(pipeline_env, "sale", "show", "S-1", "--company", "NOPE")
    assert unknown_company.returncode == 1 and "NOPE" in unknown_company.stderr


def test_a_receipt_needs_no_company_but_honours_one(pipeline_env, two_companies):
    number = two_companies

    # Transaction numbers are unique across the installation: no company needed
    plain = tillpost(pipeline_env, "receipt", number)
    assert plain.returncode == 0, plain.stderr
    assert number in plain.stdout

    # A company that is the sale's shows it; another company's receipt is not found
    assert tillpost(pipeline_env, "receipt", number, "--company", "ACME").stdout == plain.stdout
    other = tillpost(pipeline_env, "receipt", number, "--company", "BETA")
    assert other.returncode == 1 and number in other.stderr


def test_one_company_needs_no_company_option(pipeline_env, sessions):
    with sessions.begin() as s:
        make_shop(s, "ACME")
        make_shop(s, "BETA")
    post(sessions, sale("S-9", [("TEA", "1")], [("CASH", "4.50")]))

    shown = tillpost(pipeline_env, "sale", "show", "S-9", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["total"] == "4.50"


def test_a_request_still_pending_counts_for_the_company_of_its_outlet(sessions, pipeline_env):
    # Given BETA posted "DUP-1" and ACME's "DUP-1" is received but not yet decided
    with sessions.begin() as s:
        make_shop(s, "ACME")
        make_shop(s, "BETA")
    post(sessions, sale("DUP-1", [("TEA", "2")], [("CASH", "9.00")], outlet="BETA-ORCH"))
    receive_one(sessions, sale("DUP-1", [("TEA", "1")], [("CASH", "4.50")]))

    # Then without --company it is refused, never BETA's sale shown for ACME's request
    _refused_naming_both_companies(tillpost(pipeline_env, "sale", "show", "DUP-1"))
    # And with --company ACME it is ACME's own, still PENDING
    shown = tillpost(pipeline_env, "sale", "show", "DUP-1", "--company", "ACME", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["outcome"] == "PENDING"
