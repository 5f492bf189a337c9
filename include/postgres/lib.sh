# Shared by up.sh, down.sh and status.sh: settings, the private layout, the server's PID.
# Sourced, never run. Everything here only touches paths below $LSTFLOW_POSTGRES_ROOT and the
# one server whose postmaster.pid there names a live postgres process of that data directory.

set -euo pipefail

POSTGRES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECKOUT=$(cd "$POSTGRES_DIR/../.." && pwd)
# The role Airflow connects as: it owns the databases and may create more (one per test stack).
ROLE=lstflow

die() {
    echo "lstflow-postgres: error: $*" >&2
    exit 1
}

log() {
    echo "lstflow-postgres: $*" >&2
}

# Settings (each an environment variable):
#   LSTFLOW_POSTGRES_PORT     127.0.0.1 port (15432); several checkouts of one machine each
#                             set their own
#   LSTFLOW_POSTGRES_ROOT     data, socket, log and password (<checkout>/.lstflow/postgres)
#   LSTFLOW_POSTGRES_OS_USER  the non-root account the server runs as (postgres, from the
#                             Debian package)
#   LSTFLOW_POSTGRES_BIN      PostgreSQL's bin directory (the newest /usr/lib/postgresql/*/bin)
load_settings() {
    PORT=${LSTFLOW_POSTGRES_PORT:-15432}
    ROOT=${LSTFLOW_POSTGRES_ROOT:-$CHECKOUT/.lstflow/postgres}
    OS_USER=${LSTFLOW_POSTGRES_OS_USER:-postgres}
    [[ $PORT =~ ^[0-9]+$ ]] && ((PORT >= 1024 && PORT <= 65535)) ||
        die "LSTFLOW_POSTGRES_PORT='$PORT' must be a port number between 1024 and 65535"
    [[ $ROOT =~ ^/[A-Za-z0-9._/-]+$ && $ROOT != / ]] ||
        die "LSTFLOW_POSTGRES_ROOT='$ROOT' must be an absolute path other than / made of [A-Za-z0-9._/-]"
    [[ $OS_USER =~ ^[a-z_][a-z0-9_-]{0,30}$ && $OS_USER != root ]] ||
        die "LSTFLOW_POSTGRES_OS_USER='$OS_USER' must be a non-root user name (PostgreSQL refuses root)"
    BIN=${LSTFLOW_POSTGRES_BIN:-}
    if [[ -z $BIN ]]; then
        BIN=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/pg_ctl' 2>/dev/null |
            sort -V | tail -n 1 | xargs -r dirname)
    fi
    [[ -n $BIN && -x $BIN/pg_ctl ]] ||
        die "no PostgreSQL server found (pg_ctl under /usr/lib/postgresql/*/bin); run include/setup/install.sh, which installs Debian's postgresql, or set LSTFLOW_POSTGRES_BIN"
    DATA=$ROOT/data
    RUN=$ROOT/run
    LOGFILE=$ROOT/postgres.log
    PASSWORD_FILE=$ROOT/password
    LOCKFILE=$ROOT/lock
}

# Serialise up/down across processes (pytest workers of one checkout start it concurrently).
take_lock() {
    mkdir -p "$ROOT"
    chmod 0755 "$ROOT"
    exec 9>"$LOCKFILE"
    flock 9
}

as_server_user() {
    runuser -u "$OS_USER" -- "$@"
}

# Print the PID of our running server; fail when none (no or stale postmaster.pid). The PID must
# be a live postgres process whose command line names our data directory.
server_pid() {
    local pid
    [[ -r $DATA/postmaster.pid ]] || return 1
    read -r pid <"$DATA/postmaster.pid" || return 1
    [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 1
    grep -qaF -- "$DATA" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# The port the running server listens on (line 4 of postmaster.pid).
server_port() {
    sed -n 4p "$DATA/postmaster.pid"
}

# psql as the bootstrap superuser over our socket; SQL on stdin, psql variables as "-v k=v".
superuser_psql() {
    PGPASSWORD=$(<"$PASSWORD_FILE") "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -At \
        -h "$RUN" -p "$PORT" -U postgres -d postgres "$@"
}
