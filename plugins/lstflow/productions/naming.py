"""How a production's ``prod_id`` becomes its DAG id (documented in the README).

``mc_`` + the prod_id with every character Airflow does not allow in a DAG id (anything but
letters, digits, ``_``, ``-`` and ``.``) replaced by ``_``. Two prod_ids that map to the same DAG
id are reported as a conflict rather than one silently hiding the other.
"""

from __future__ import annotations

import re

PREFIX = "mc_"
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]")
MAX_LENGTH = 250


def dag_id_for(prod_id: str) -> str:
    return (PREFIX + _NOT_ALLOWED.sub("_", prod_id))[:MAX_LENGTH]
