"""`python -m bench` runs bench/run.py (see its docstring)."""
from bench.run import main

main()
