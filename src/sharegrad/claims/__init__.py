"""The two works' claims as data (experiments/claims.yaml) and the ledger that judges them.

``load_claims()`` reads and validates the claims file; ``paper_value(id)`` is how a
figure or table gets a paper's number (no paper value lives in code or in an
experiment config). ``sharegrad.claims.ledger`` turns the claims and a config's
aggregated CSVs into one table of verdicts (``sharegrad claims``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml

from sharegrad.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[3]
# An installed package (pip install ., a wheel) has no checkout around it: its build copied the
# claims file and its schema in here (setup.py); a checkout's experiments/ is the one source.
PACKAGED = Path(__file__).resolve().parent / "files"


def _data_file(name: str) -> Path:
    checkout = REPO_ROOT / "experiments" / name
    return checkout if checkout.exists() or not (PACKAGED / name).exists() else PACKAGED / name


CLAIMS_FILE = _data_file("claims.yaml")
SCHEMA_FILE = _data_file("claims.schema.yaml")


def claims_path() -> Path:
    """``$SHAREGRAD_CLAIMS`` if set, else the checkout's experiments/claims.yaml (an installed package: its
    packaged copy)."""
    return Path(os.environ.get("SHAREGRAD_CLAIMS", CLAIMS_FILE))


def validate_claims(document: dict, where: str = "claims file") -> list[dict]:
    import jsonschema

    schema = yaml.safe_load(SCHEMA_FILE.read_text())
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        field = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise UserError(f"{where}: {field}: {exc.message}") from None
    claims = document["claims"]
    ids = [c["id"] for c in claims]
    duplicate = sorted({i for i in ids if ids.count(i) > 1})
    if duplicate:
        raise UserError(f"{where}: duplicate claim id(s) {duplicate}")
    from sharegrad.claims.measures import MEASURES

    for claim in claims:
        if claim["measure"]["quantity"] not in MEASURES.names():
            raise UserError(f"{where}: claim {claim['id']}: unknown quantity {claim['measure']['quantity']!r}; "
                            f"known: {MEASURES.names()}")
    return claims


@functools.lru_cache(maxsize=4)
def _read(path: str) -> tuple[tuple, dict]:
    file = Path(path)
    try:
        document = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the claims file {file}: {exc}") from None
    return tuple(validate_claims(document, str(file))), document["tiers"]


def _load(path: str) -> tuple:
    return _read(path)[0]


def success_tiers(path: Path | None = None) -> dict:
    """The two success criteria an image claim can mean (the claims file's ``tiers``): name -> definition."""
    return {name: dict(tier) for name, tier in _read(str(path or claims_path()))[1].items()}


def load_claims(path: Path | None = None) -> list[dict]:
    return [dict(c) for c in _load(str(path or claims_path()))]


def claim(claim_id: str, path: Path | None = None) -> dict:
    for entry in load_claims(path):
        if entry["id"] == claim_id:
            return entry
    raise UserError(f"no claim {claim_id!r} in {path or claims_path()}")


def paper_value(claim_id: str, path: Path | None = None):
    """The paper's value of one claim, as the claims file states it."""
    return claim(claim_id, path)["paper"]["value"]


def claims_in_group(group: str, path: Path | None = None) -> list[dict]:
    return [c for c in load_claims(path) if c.get("group") == group]
