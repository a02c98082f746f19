from . import main

raise SystemExit(main(prog="python -m pair_student.bench"))
