"""``python -m pair_student.validate``: see :mod:`pair_student.validate.cli`."""

import sys

from .cli import main

sys.exit(main(prog="python -m pair_student.validate"))
