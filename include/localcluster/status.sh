#!/usr/bin/env bash
# Report the local cluster, one fact per line, for lstflow.localcluster.status() to parse:
#   daemon <name> <pid|->     partition <name> <default yes|no> <avail> <timelimit> <state>
#   env_file <path>            up <yes|no>
# Exit 0 when every required daemon is alive and the node accepts jobs, 1 otherwise.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
healthy=yes
for daemon in "${REQUIRED_DAEMONS[@]}"; do
    if pid=$(daemon_pid "$daemon"); then
        echo "daemon $daemon $pid"
    else
        echo "daemon $daemon -"
        healthy=no
    fi
done
if daemon_pid slurmctld >/dev/null; then
    while read -r name avail timelimit state; do
        default=no
        [[ $name == *'*' ]] && default=yes
        echo "partition ${name%'*'} $default $avail $timelimit $state"
    done < <(sinfo -h -o '%P %a %l %T' 2>/dev/null)
    node_usable || healthy=no
fi
echo "env_file $ENV_FILE"
echo "up $healthy"
[[ $healthy == yes ]]
