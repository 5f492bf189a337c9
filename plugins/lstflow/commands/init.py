"""``lstflow init``: render the packaged ``airflow.cfg.j2`` into ``$AIRFLOW_HOME/airflow.cfg``.

Secrets already present in an existing ``airflow.cfg`` are kept, so re-running ``init`` after a
template change does not log everybody out. Site folders default to ``$AIRFLOW_HOME``'s; a
checkout passes its own (``make airflow-init``).
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

from lstflow.package_data import template_loader

ADMIN_USER = "admin"
TEMPLATE = "airflow.cfg.j2"
DEFAULT_CONN_ID = "lstflow_local_slurm"  # lstflow.slurm.hook's (not imported: no Airflow here)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init", help="write $AIRFLOW_HOME/airflow.cfg for lstflow and migrate its database"
    )
    parser.add_argument(
        "--airflow-home",
        type=Path,
        default=None,
        help="Airflow home (default: $AIRFLOW_HOME, else ~/airflow)",
    )
    parser.add_argument(
        "--dags-folder", type=Path, default=None, help="DAG files (default: AIRFLOW_HOME/dags)"
    )
    parser.add_argument(
        "--production-configs",
        type=Path,
        default=None,
        help="the production library (default: AIRFLOW_HOME/production_configs)",
    )
    parser.add_argument(
        "--ssh-conn-id",
        default=DEFAULT_CONN_ID,
        help=f"Airflow connection of the Slurm cluster ({DEFAULT_CONN_ID})",
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
        help="production logs on the cluster's filesystem (default: AIRFLOW_HOME/prod_logs)",
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


def default_airflow_home() -> Path:
    """Airflow's own rule: ``$AIRFLOW_HOME``, else ``~/airflow``."""
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")


def render_config(
    airflow_home: Path,
    *,
    api_port: int,
    executor: str,
    sql_alchemy_conn: str | None,
    log_root: str | None = None,
    poll_interval: float = 60.0,
    config_variables: Mapping[str, str] | None = None,
    dags_folder: Path | None = None,
    production_configs: Path | None = None,
    ssh_conn_id: str = DEFAULT_CONN_ID,
) -> str:
    environment = jinja2.Environment(
        loader=template_loader("lstflow.commands"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    kept = existing_secrets(airflow_home / "airflow.cfg")
    return environment.get_template(TEMPLATE).render(
        airflow_home=airflow_home,
        dags_folder=dags_folder or airflow_home / "dags",
        production_configs=production_configs or airflow_home / "production_configs",
        ssh_conn_id=ssh_conn_id,
        executor=executor,
        sql_alchemy_conn=sql_alchemy_conn or f"sqlite:///{airflow_home}/airflow.db",
        api_port=api_port,
        log_root=log_root or f"{airflow_home}/prod_logs",
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
        dags_folder=args.dags_folder and args.dags_folder.resolve(),
        production_configs=args.production_configs and args.production_configs.resolve(),
        ssh_conn_id=args.ssh_conn_id,
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
