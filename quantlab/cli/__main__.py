"""``python -m quantlab.cli``: the ``quantlab`` console script."""

import sys

from quantlab.cli import main

sys.exit(main())
