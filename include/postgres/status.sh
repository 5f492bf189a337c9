#!/usr/bin/env bash
# Report this checkout's PostgreSQL server: "server <pid|->", "port <port>", "data <dir>".
# Exit 0 when it runs and accepts connections on the configured port, 1 otherwise.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
healthy=no
if pid=$(server_pid); then
    echo "server $pid"
    [[ $(server_port) == "$PORT" ]] && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && healthy=yes
else
    echo "server -"
fi
echo "port $PORT"
echo "data $DATA"
echo "up $healthy"
[[ $healthy == yes ]]
