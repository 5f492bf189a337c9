"""``python -m lstflow_dev cluster up|down|status|connection``: the local Slurm-over-SSH cluster."""

from __future__ import annotations

import argparse
import sys

from lstflow_dev import localcluster


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cluster", help="bring up, stop or inspect the local Slurm-over-SSH test cluster"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    up = actions.add_parser("up", help="start the cluster (idempotent) and print its env file")
    airflow = up.add_mutually_exclusive_group()
    airflow.add_argument(
        "--airflow-connection",
        dest="airflow_connection",
        action="store_true",
        default=None,
        help=f"always upsert the {localcluster.CONNECTION_ID!r} connection into Airflow",
    )
    airflow.add_argument(
        "--no-airflow-connection",
        dest="airflow_connection",
        action="store_false",
        help="never touch Airflow (default: upsert when $AIRFLOW_HOME/airflow.db exists)",
    )
    up.set_defaults(handler=run_up)

    down = actions.add_parser("down", help="cancel all jobs and stop every cluster daemon")
    down.add_argument("--wipe", action="store_true", help="also delete all cluster state")
    down.set_defaults(handler=run_down)

    actions.add_parser(
        "status", help="show daemons and partitions; exit 1 unless all up"
    ).set_defaults(handler=run_status)
    actions.add_parser(
        "connection",
        help="print the Airflow connection JSON (for AIRFLOW_CONN_LSTFLOW_LOCAL_SLURM)",
    ).set_defaults(handler=run_connection)


def run_up(args: argparse.Namespace) -> int:
    try:
        info = localcluster.up()
        upsert = args.airflow_connection
        if upsert is None:
            upsert = localcluster.airflow_metadata_db_exists()
        if upsert:
            localcluster.upsert_airflow_connection()
            print(f"Airflow connection {localcluster.CONNECTION_ID!r} upserted")
    except localcluster.ClusterError as error:
        print(f"cluster up: {error}", file=sys.stderr)
        return 1
    print(f"cluster up; client environment in {info.env_file}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    try:
        localcluster.down(wipe=args.wipe)
    except localcluster.ClusterError as error:
        print(f"cluster down: {error}", file=sys.stderr)
        return 1
    print("cluster down" + (" and wiped" if args.wipe else ""))
    return 0


def run_status(args: argparse.Namespace) -> int:
    try:
        report = localcluster.status()
    except localcluster.ClusterError as error:
        print(f"cluster status: {error}", file=sys.stderr)
        return 1
    for name, pid in report["daemons"].items():
        print(f"{name:<10} {'pid ' + str(pid) if pid else 'NOT RUNNING'}")
    for partition in report["partitions"]:
        default = " (default)" if partition["default"] else ""
        print(
            f"partition {partition['name']}{default}: {partition['avail']}, "
            f"MaxTime {partition['timelimit']}, node {partition['state']}"
        )
    print(f"env file   {report['env_file']}")
    print("cluster is UP" if report["up"] else "cluster is NOT fully up")
    return 0 if report["up"] else 1


def run_connection(args: argparse.Namespace) -> int:
    try:
        print(localcluster.airflow_connection_json())
    except localcluster.ClusterError as error:
        print(f"cluster connection: {error}", file=sys.stderr)
        return 1
    return 0
