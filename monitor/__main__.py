"""``python -m monitor``: the ``sendwatch`` command."""

import sys

from monitor.app.launch import main

sys.exit(main())
