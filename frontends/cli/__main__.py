"""`python -m frontends.cli`: the same as the installed `tillpost` command."""

import sys

from frontends.cli import main

sys.exit(main())
