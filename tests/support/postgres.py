"""The checkout's PostgreSQL server (``include/postgres``) and one database per Airflow stack.

Every test that runs real Airflow processes (scheduler, triggerer, dag-processor, api-server)
puts their metadata on PostgreSQL, as a deployment does: SQLite serialises writers ("database is
locked"). ``up()`` runs the idempotent ``include/postgres/up.sh`` (private data directory under
``.lstflow/postgres``, port ``$LSTFLOW_POSTGRES_PORT``); each stack or pytest worker then gets a
database of its own, so parallel workers never share one.

    server = postgres.up()
    url = server.create_database("stack_ab12cd34")   # dropped first if a crash left it
    ...                                             # AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url
    server.drop_database("stack_ab12cd34")
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

CHECKOUT = Path(__file__).resolve().parents[2]
UP_SCRIPT = CHECKOUT / "include" / "postgres" / "up.sh"
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresError(RuntimeError):
    """The server could not be brought up; the message carries up.sh's own error."""


@dataclass(frozen=True)
class PostgresServer:
    """How to reach the server as the role that owns (and may create) the databases."""

    host: str
    port: int
    user: str
    password: str

    def url(self, database: str) -> str:
        """SQLAlchemy URL for Airflow's ``[database] sql_alchemy_conn``."""
        return (
            f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    def connect(self, database: str = "postgres") -> Any:
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            connect_timeout=30,
        )

    def query(self, database: str, statement: str, params: Iterable[object] = ()) -> list[Any]:
        """Run one read-only statement (``%s`` placeholders) and return its rows."""
        with closing(self.connect(database)) as connection:
            connection.set_session(readonly=True, autocommit=True)
            with connection.cursor() as cursor:
                cursor.execute(statement, tuple(params))
                return list(cursor.fetchall())

    def dump(self, database: str, path: Path) -> Path:
        """``pg_dump`` of ``database`` as SQL text into ``path`` (to search what it stores)."""
        subprocess.run(
            ["pg_dump", "-h", self.host, "-p", str(self.port), "-U", self.user, "-f", str(path),
             database],
            env={**os.environ, "PGPASSWORD": self.password},
            check=True,
            capture_output=True,
            timeout=300,
        )  # fmt: skip
        return path

    def create_database(self, name: str) -> str:
        """A new, empty database ``name`` (dropped first if one was left behind); its URL."""
        self.drop_database(name)
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_checked(name))))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, closing any connection a killed process left open."""
        self._admin(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(_checked(name))
            )
        )

    def _admin(self, statement: sql.Composed) -> None:
        with closing(self.connect()) as connection:
            connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(statement)


def unique_database_name(prefix: str) -> str:
    """``<prefix>_<8 hex>``, lower-cased and cut to a valid PostgreSQL identifier."""
    cleaned = re.sub(r"[^a-z0-9_]", "_", prefix.lower())[:50]
    return _checked(f"{cleaned}_{uuid.uuid4().hex[:8]}")


@cache
def up() -> PostgresServer:
    """Start (or re-check) the checkout's server once per process and return how to reach it."""
    result = subprocess.run(
        ["bash", str(UP_SCRIPT)], capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        raise PostgresError(f"{UP_SCRIPT} failed:\n{result.stderr[-3000:]}")
    facts = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return PostgresServer(
        host=facts["host"],
        port=int(facts["port"]),
        user=facts["user"],
        password=Path(facts["password_file"]).read_text().strip(),
    )


def _checked(name: str) -> str:
    if not DATABASE_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r} must match {DATABASE_NAME.pattern}")
    return name
