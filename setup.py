"""The build hook that ships the claims file inside the package.

experiments/claims.yaml (and its schema) stays the one copy in the repository; a built package
(``pip install .``, a wheel) gets a copy of each under ``sharegrad/claims/files/``, which
``sharegrad.claims`` reads when there is no checkout around it. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PACKAGED = ("claims.yaml", "claims.schema.yaml")


class BuildWithClaims(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "sharegrad" / "claims" / "files"
        target.mkdir(parents=True, exist_ok=True)
        for name in PACKAGED:
            shutil.copyfile(Path(__file__).resolve().parent / "experiments" / name, target / name)


setup(cmdclass={"build_py": BuildWithClaims})
