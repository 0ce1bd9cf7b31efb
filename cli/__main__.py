"""`python -m cli`: the same as the `parley` console script."""

import sys

from cli.main import main

sys.exit(main())
