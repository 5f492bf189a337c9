#!/usr/bin/env bash
# Bring up (or re-check) this checkout's PostgreSQL server for Airflow's metadata; idempotent.
#
#   include/postgres/up.sh [DATABASE...]
#
# A private cluster (initdb once) under $LSTFLOW_POSTGRES_ROOT, run by the non-root postgres
# account on 127.0.0.1:$LSTFLOW_POSTGRES_PORT, password authentication only. Creates the role
# lstflow and each DATABASE (owned by it) that does not exist yet. Prints the connection facts,
# one KEY=VALUE per line (host, port, user, password_file), for the Makefile and the tests.
# Settings: see lib.sh.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "run as root: it runs the server as the '${LSTFLOW_POSTGRES_OS_USER:-postgres}' account"
load_settings
for database in "$@"; do
    [[ $database =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
        die "database name '$database' must match [a-z_][a-z0-9_]{0,62}"
done
id -u "$OS_USER" >/dev/null 2>&1 ||
    die "no '$OS_USER' account; Debian's postgresql package creates it (include/setup/install.sh)"
take_lock
as_server_user test -x "$ROOT" ||
    die "the '$OS_USER' account cannot reach $ROOT; make its parent directories searchable (chmod o+x) or set LSTFLOW_POSTGRES_ROOT"

if [[ ! -s $PASSWORD_FILE ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$PASSWORD_FILE")
fi

if [[ ! -f $DATA/PG_VERSION ]]; then
    log "creating the cluster in $DATA"
    rm -rf "$DATA"
    install -d -o "$OS_USER" -g "$OS_USER" -m 0700 "$DATA"
    pwfile=$ROOT/initdb-password
    install -o "$OS_USER" -m 0600 "$PASSWORD_FILE" "$pwfile"
    as_server_user "$BIN/initdb" -D "$DATA" -U postgres --pwfile="$pwfile" \
        --auth=scram-sha-256 -E UTF8 --no-locale >/dev/null
    rm -f "$pwfile"
    # A throwaway development server: a crash may lose the last commits, never consistency.
    cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
max_connections = 300
synchronous_commit = off
timezone = 'UTC'
CONF
fi
install -d -o "$OS_USER" -g "$OS_USER" -m 0755 "$RUN"

if pid=$(server_pid) && [[ $(server_port) != "$PORT" ]]; then
    log "restarting the server (pid $pid): it listens on $(server_port), the setting is $PORT"
    as_server_user "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
fi
if ! server_pid >/dev/null; then
    log "starting PostgreSQL on 127.0.0.1:$PORT (log: $LOGFILE)"
    touch "$LOGFILE"
    chown "$OS_USER:" "$LOGFILE"
    # 9>&-: the server must not inherit (and hold forever) the lock.
    as_server_user "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -o "-p $PORT" -w -t 60 start \
        >/dev/null 9>&- || die "the server did not start; see $LOGFILE"
fi

password=$(<"$PASSWORD_FILE")
superuser_psql -v role="$ROLE" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SQL
for database in "$@"; do
    superuser_psql -v role="$ROLE" -v database="$database" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
SQL
done

echo "host=127.0.0.1"
echo "port=$PORT"
echo "user=$ROLE"
echo "password_file=$PASSWORD_FILE"
