"""The service layer owns every transaction: domain rules below it never commit, and each use case
commits exactly what it says. Entry points reach the database through connect(settings)."""

from dataclasses import replace

from sqlalchemy import event, select

from domain.errors import TillpostError
from domain.followups.outbox import run_receipts
from domain.posting.catalogue import Catalogue
from domain.posting.decision import decide
from domain.tables import FollowUp, SaleRequestRow
from domain.vocabulary import FollowUpKind, Outcome
from frontends.ledger import Ledger
from services.followups import run_follow_up
from services.posting import post_request
from tests.shop import make_shop, receive_one, sale


class CommitRefused(TillpostError):
    """A domain rule tried to commit."""


def refuse_commit(session):
    raise CommitRefused("a domain rule committed")


def outcome_seen_elsewhere(sessions, intake_id):
    with sessions() as other:
        return other.scalar(select(SaleRequestRow.outcome).where(SaleRequestRow.id == intake_id))


def test_posting_rules_and_a_follow_up_never_commit_on_their_own(sessions):
    # Given a shop and a received sale request
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10})
    intake_id = receive_one(sessions, sale("NC-1", [("TEA", "2")], [("CASH", "9.00")], customer="C001"))

    # When the posting rules and the receipt follow-up run on a session whose commit raises
    with sessions() as session:
        event.listen(session, "before_commit", refuse_commit)
        decision = decide(session, intake_id, Catalogue())
        assert decision.outcome == Outcome.POSTED
        assert run_receipts(session, [decision.sale_id]) == 1
        session.flush()

        # Then nothing they did is visible outside their transaction: they committed nothing
        assert outcome_seen_elsewhere(sessions, intake_id) == Outcome.PENDING
        session.rollback()
    assert outcome_seen_elsewhere(sessions, intake_id) == Outcome.PENDING


def test_the_use_cases_transaction_is_the_one_commit(sessions):
    # Given a shop and a received sale request, and every commit counted
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10})
    intake_id = receive_one(sessions, sale("NC-2", [("TEA", "1")], [("CASH", "4.50")], customer="C001"))
    commits = []
    event.listen(sessions.sessions, "after_commit", commits.append)

    # When the posting use case and the receipt follow-up use case run
    decision = post_request(sessions, intake_id)
    posted_commits = len(commits)
    run = run_follow_up(sessions, FollowUpKind.CUSTOMER_RECEIPT, [decision.sale_id])

    # Then posting committed once, and the follow-up once for its work (then once to move batches on)
    assert (decision.outcome, posted_commits) == (Outcome.POSTED, 1)
    assert run.done == 1 and len(commits) == 3
    with sessions() as s:
        done = s.scalars(select(FollowUp.kind).where(FollowUp.done_at.is_not(None))).all()
    assert sorted(done) == [FollowUpKind.CUSTOMER_RECEIPT, FollowUpKind.LOYALTY]


def test_ledger_connect_uses_the_database_of_the_settings_it_is_given(sessions, database_url, service_settings):
    # Given settings naming the test database, while the environment names another one
    assert service_settings.database_url != database_url
    config = replace(service_settings, configured_database_url=database_url)
    intake_id = receive_one(sessions, sale("LC-1", [("TEA", "1")], [("CASH", "4.50")]))

    # When a ledger is connected with those settings
    ledger = Ledger.connect(config)
    try:
        # Then it reads the test database: the request recorded there is found
        assert ledger.db.engine.url.database == config.database_url.rsplit("/", 1)[-1].split("?")[0]
        assert [document["request_id"] for document in ledger.outcomes([intake_id])] == ["LC-1"]
    finally:
        ledger.db.dispose()
