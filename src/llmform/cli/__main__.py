"""``python -m llmform.cli``: the console script without its wrapper."""

import sys

from .entry import main

sys.exit(main())
