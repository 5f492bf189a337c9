#!/usr/bin/env bash
# Install everything lstflow needs on a Debian/Ubuntu machine, as root, idempotently:
# Debian packages, then one venv (.venv, Airflow side + analysis side) built from Debian's
# python3 so that Slurm jobs running as the cluster's non-root user can execute it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${LSTFLOW_VENV:-$root/.venv}"
# chromium + chromium-driver: the browser tests drive the Airflow UI in headless Chromium.
# postgresql: Airflow's metadata DB wherever real Airflow processes run (include/postgres).
apt_packages=(python3 python3-venv python3-dev make git chromium chromium-driver postgresql)

missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "lstflow setup: installing Debian packages: ${missing[*]}"
    # lstflow runs its own PostgreSQL (include/postgres): no machine-wide cluster on port 5432.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/lstflow.conf
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# Rebuild the venv only when the project's dependencies changed.
stamp="$venv/.lstflow-installed"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
if [[ ! -x "$venv/bin/python" ]]; then
    echo "lstflow setup: creating $venv"
    /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --upgrade pip
echo "lstflow setup: installing lstflow with the analysis and dev extras (a few minutes the first time)"
"$venv/bin/pip" install -q -e "$root[analysis,dev]"
echo "$want" > "$stamp"
