"""``python -m llmform.cli``: the console script without its wrapper."""

import sys

from .main import main

sys.exit(main())
