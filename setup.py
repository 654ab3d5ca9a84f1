from setuptools import Extension, setup

setup(ext_modules=[Extension("dumpmask._speedups", ["dumpmask/_speedups.c"], optional=True, extra_compile_args=["-O2"])])
