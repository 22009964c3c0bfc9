"""The ledger's words are defined once (domain/vocabulary.py): the rejections and the tables' CHECK
constraints are built from them, never spelled again."""

from sqlalchemy import CheckConstraint

from domain import errors
from domain.tables import Batch, FollowUp, SaleRequestRow
from domain.vocabulary import Reason


def _rejections() -> list[type[errors.Rejected]]:
    found, todo = [], [errors.Rejected]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        found.extend(cls.__subclasses__())
    return found


def test_every_rejection_names_a_reason_of_its_own():
    codes = [cls.code for cls in _rejections()]
    assert all(isinstance(code, Reason) for code in codes)
    assert sorted(codes) == sorted(set(codes))


def test_every_reason_is_some_rejection_and_replay_accepts_each():
    assert {cls.code for cls in _rejections()} == set(Reason)
    assert set(errors.REASON_CODES) == set(Reason)


def _check(model: type, name: str) -> str:
    (found,) = (c for c in model.__table__.constraints if isinstance(c, CheckConstraint) and c.name.endswith(name))
    return str(found.sqltext)


def test_the_tables_accept_exactly_the_words_of_the_vocabulary():
    # The outcome and batch state texts are the ones migration 0001 created: built from the enums,
    # they must not change without a migration (tests/integration/test_migrations.py).
    assert _check(SaleRequestRow, "_outcome") == "outcome IN ('PENDING', 'POSTED', 'DUPLICATE', 'CONFLICT', 'REJECTED')"
    assert _check(Batch, "_state") == "state IN ('RECEIVED', 'POSTING', 'POSTED', 'ATTENTION', 'DONE')"
    assert _check(FollowUp, "_kind") == "kind IN ('REORDER', 'LOYALTY', 'CUSTOMER_RECEIPT')"
