"""Run in a fresh process: what the dag-processor pays to parse the DAG file once.

Prints one JSON line: the DagBag time (Airflow already imported, as in the dag-processor) and its
CPU time, the serialization time of every DAG (what the dag-processor stores), and the peak RSS.
Usage: python parse_probe.py DAG_FILE  (the library and cache come from AIRFLOW__LSTFLOW__*).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def main(dag_file: str) -> None:
    start = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    imported = time.perf_counter()
    cpu_start = time.process_time()
    bag = DagBag(dag_folder=dag_file, safe_mode=False)
    parsed = time.perf_counter()
    cpu_parsed = time.process_time()
    size = 0
    for dag in bag.dags.values():
        size += len(json.dumps(DagSerialization.to_dict(dag)))
    serialized = time.perf_counter()
    print(
        json.dumps(
            {
                "import_airflow_s": imported - start,
                "parse_s": parsed - imported,
                # CPU time of this process: what the parse costs, whatever else loads the machine.
                "parse_cpu_s": cpu_parsed - cpu_start,
                "serialize_s": serialized - parsed,
                "serialized_mb": size / 1e6,
                "dags": len(bag.dags),
                "import_errors": len(bag.import_errors),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
