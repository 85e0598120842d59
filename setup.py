# The only job of setup.py: hand the cffi builder to setuptools so `pip install .` compiles csrc/.
from setuptools import setup

setup(cffi_modules=["tinygrad_lab/_build.py:ffibuilder"])
