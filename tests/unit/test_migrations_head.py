from alembic.script import ScriptDirectory

from migrations import HEAD
from migrations.schema import alembic_config


def test_head_is_the_newest_migration():
    assert ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head() == HEAD
