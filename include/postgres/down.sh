#!/usr/bin/env bash
# Stop this checkout's PostgreSQL server (only the one of our data directory); --wipe also
# deletes its data, so the next up.sh starts from an empty cluster.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WIPE=no
case ${1:-} in
    "") ;;
    --wipe) WIPE=yes ;;
    *) die "usage: down.sh [--wipe]" ;;
esac
[[ $(id -u) -eq 0 ]] || die "run as root"
load_settings
take_lock
if pid=$(server_pid); then
    log "stopping the server (pid $pid)"
    as_server_user "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
fi
if [[ $WIPE == yes ]]; then
    log "wiping $DATA"
    rm -rf "$DATA" "$RUN" "$PASSWORD_FILE" "$LOGFILE"
fi
log "down"
