"""``lstflow init``: render ``airflow.cfg.template`` into ``$AIRFLOW_HOME/airflow.cfg``.

Secrets already present in an existing ``airflow.cfg`` are kept, so re-running ``init`` after a
template change does not log everybody out.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import jinja2

from lstflow.project import default_airflow_home, project_root, state_dir

ADMIN_USER = "admin"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init", help="write $AIRFLOW_HOME/airflow.cfg for this checkout and migrate its database"
    )
    parser.add_argument(
        "--airflow-home",
        type=Path,
        default=None,
        help="Airflow home (default: $AIRFLOW_HOME, else .lstflow/airflow in this checkout)",
    )
    parser.add_argument("--api-port", type=int, default=8080, help="api-server port (8080)")
    parser.add_argument("--executor", default="LocalExecutor", help="Airflow executor")
    parser.add_argument(
        "--sql-alchemy-conn",
        default=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
        help="metadata DB URL, e.g. postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB (default: "
        "$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, else SQLite in the home, for dag.test() only)",
    )
    parser.add_argument(
        "--log-root",
        default=None,
        help="production logs on the cluster (default: $LSTFLOW_DATA_ROOT/prod_logs, "
        "else .lstflow/data/prod_logs in this checkout)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=60.0,
        help="first Slurm poll interval in s (60; a local test cluster can use 5)",
    )
    parser.add_argument(
        "--config-variable",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=config_variable,
        help="a ${NAME} of the production configs' paths, written to [lstflow] config_variables "
        "(repeatable), e.g. LSTFLOW_DATA_ROOT=/data",
    )
    parser.add_argument("--no-db", action="store_true", help="only render airflow.cfg")
    parser.set_defaults(handler=run)


def config_variable(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of ``--config-variable``, NAME a shell-style variable name."""
    name, equals, value = text.partition("=")
    if not equals or not name.isidentifier() or "\n" in value:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME=VALUE (e.g. LSTFLOW_DATA_ROOT=/data)"
        )
    return name, value


def existing_secrets(cfg_path: Path) -> dict[str, str]:
    if not cfg_path.exists():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(cfg_path)
    found = {
        "secret_key": parser.get("api", "secret_key", fallback=""),
        "jwt_secret": parser.get("api_auth", "jwt_secret", fallback=""),
    }
    return {key: value for key, value in found.items() if value}


def default_log_root() -> str:
    data_root = os.environ.get("LSTFLOW_DATA_ROOT") or str(state_dir() / "data")
    return f"{data_root}/prod_logs"


def render_config(
    airflow_home: Path,
    *,
    api_port: int,
    executor: str,
    sql_alchemy_conn: str | None,
    log_root: str | None = None,
    poll_interval: float = 60.0,
    config_variables: Mapping[str, str] | None = None,
) -> str:
    template_path = project_root() / "airflow.cfg.template"
    template = jinja2.Template(template_path.read_text(), undefined=jinja2.StrictUndefined)
    kept = existing_secrets(airflow_home / "airflow.cfg")
    return template.render(
        project_root=project_root(),
        airflow_home=airflow_home,
        executor=executor,
        sql_alchemy_conn=sql_alchemy_conn or f"sqlite:///{airflow_home}/airflow.db",
        api_port=api_port,
        log_root=log_root or default_log_root(),
        poll_interval=poll_interval,
        max_poll_interval=max(poll_interval, 10 * poll_interval),
        config_variables=dict(config_variables or {}),
        admin_user=ADMIN_USER,
        secret_key=kept.get("secret_key") or secrets.token_urlsafe(32),
        jwt_secret=kept.get("jwt_secret") or secrets.token_urlsafe(32),
    )


def ensure_admin_password(airflow_home: Path) -> str:
    """Write the UI login once (SimpleAuthManager's passwords file) and return the password."""
    passwords_file = airflow_home / "simple_auth_manager_passwords.json"
    if passwords_file.exists():
        passwords: dict[str, str] = json.loads(passwords_file.read_text())
        if ADMIN_USER in passwords:
            return passwords[ADMIN_USER]
    password = secrets.token_urlsafe(12)
    passwords_file.write_text(json.dumps({ADMIN_USER: password}) + "\n")
    passwords_file.chmod(0o600)
    return password


def run(args: argparse.Namespace) -> int:
    airflow_home: Path = (args.airflow_home or default_airflow_home()).resolve()
    airflow_home.mkdir(parents=True, exist_ok=True)
    cfg_path = airflow_home / "airflow.cfg"
    text = render_config(
        airflow_home,
        api_port=args.api_port,
        executor=args.executor,
        sql_alchemy_conn=args.sql_alchemy_conn,
        log_root=args.log_root,
        poll_interval=args.poll_interval,
        config_variables=dict(args.config_variable),
    )
    tmp = cfg_path.with_suffix(".cfg.tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    os.replace(tmp, cfg_path)
    password = ensure_admin_password(airflow_home)
    print(f"wrote {cfg_path}")
    if not args.no_db:
        env = {**os.environ, "AIRFLOW_HOME": str(airflow_home)}
        airflow = Path(sys.executable).with_name("airflow")
        subprocess.run([str(airflow), "db", "migrate"], env=env, check=True)
    print(f"export AIRFLOW_HOME={airflow_home}")
    print(f"UI login: {ADMIN_USER} / {password}")
    return 0
