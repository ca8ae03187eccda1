"""``python -m monitor``: the ``sendwatch`` command."""

import sys

from monitor.launch import main

sys.exit(main())
