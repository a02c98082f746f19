import sys

from .cli import main

sys.exit(main(prog="python -m pair_student.analysis"))
