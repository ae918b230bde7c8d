"""``python -m neuronid`` = the ``neuronid`` command."""

import sys

from neuronid.cli import main

sys.exit(main())
