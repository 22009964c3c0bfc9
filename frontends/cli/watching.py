"""`batch show ID --watch [SECONDS]`: one process that shows the batch again every SECONDS until it
settles, instead of a loop starting `tillpost batch show` (a new process each time) next to posting."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from domain.vocabulary import SETTLED, BatchState
from frontends.cli.common import Seconds
from frontends.cli.summary import print_batch
from frontends.output import emit_json_line
from services import batch_documents

if TYPE_CHECKING:
    from services.unit_of_work import Database

WATCH_DEFAULT = 2.0
# At least a tenth of a second (1e-300 is more than nothing, and was a busy loop of queries on
# PostgreSQL), at most a day.
WATCH_EVERY = Seconds(0.1, 86_400)
CLEAR_SCREEN = "\x1b[H\x1b[2J"  # on a terminal each showing replaces the one before


def watch_batch(db: Database, batch_id: int, every: float, as_json: bool, reconcile: bool = False) -> int:
    """Show the batch every `every` seconds until it is DONE (0) or ATTENTION (1: a follow-up failed).
    With `as_json`, one document a line; on a terminal, each showing redraws the screen. Ctrl-C
    stops watching (exit 130, the command line's); the batch goes on posting either way."""
    redraw = sys.stdout.isatty() and not as_json
    while True:
        document = batch_documents.batch_show(db, batch_id, reconcile)
        if as_json:
            emit_json_line(document)
        else:
            if redraw:
                sys.stdout.write(CLEAR_SCREEN)
            print_batch(document, as_json=False)
            if not redraw:
                print()  # a blank line between showings in a pipe or a file
        sys.stdout.flush()
        if document["state"] in SETTLED:
            return 0 if document["state"] == BatchState.DONE else 1
        time.sleep(every)
