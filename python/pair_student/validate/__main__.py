"""``python -m pair_student.validate``: see :mod:`pair_student.validate`."""

import sys

from . import main

sys.exit(main(prog="python -m pair_student.validate"))
