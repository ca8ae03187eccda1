"""``python -m monitor.app.cli``: the ``sendwatch`` command without launch's signal holding."""

import sys

from monitor.app.cli import main

sys.exit(main())
