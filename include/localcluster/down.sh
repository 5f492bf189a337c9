#!/usr/bin/env bash
# Stop the machine-wide local cluster: cancel every job and wait for it, stop the daemons in
# dependency order (only PIDs proven ours), remove the empty cgroup directories Slurm left.
# --wipe also deletes all state (accounting database, job state, keys, logs, scratch dirs), so
# the next `up` starts from zero. Settings as in up.sh.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WIPE=no
case ${1:-} in
    "") ;;
    --wipe) WIPE=yes ;;
    *) die "usage: down.sh [--wipe]" ;;
esac
[[ $(id -u) -eq 0 ]] || die "the local cluster must be stopped as root"
load_settings
take_lock

active_jobs() {
    squeue -h -o %A 2>/dev/null
}

no_active_jobs() {
    [[ -z $(active_jobs) ]]
}

# Job steps run under slurmstepd, not slurmd: they would outlive the daemons if not cancelled.
if daemon_pid slurmctld >/dev/null; then
    mapfile -t jobs < <(active_jobs)
    if ((${#jobs[@]})); then
        log "cancelling ${#jobs[@]} job(s)"
        scancel "${jobs[@]}" 2>/dev/null || true
        wait_until 60 no_active_jobs || log "jobs still active after 60 s: $(active_jobs | paste -sd' ')"
    fi
fi

for daemon in "${STOP_ORDER[@]}"; do
    stop_daemon "$daemon"
done

# Only a cluster in cgroup mode made these. Deepest first; rmdir only ever removes a cgroup with
# no processes left in it.
if grep -qx 'ProctrackType=proctrack/cgroup' "$SLURM_CONF" 2>/dev/null; then
    for cgroup in /sys/fs/cgroup/*/slurm_"$NODE"; do
        [[ -d $cgroup ]] || continue
        find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
fi

if [[ $WIPE == yes ]]; then
    log "wiping $ROOT"
    rm -rf "$ETC" "$RUN" "$SPOOL" "$LOGDIR" "$SSHDIR" "$CLIENT" "$SCRATCH"
fi
log "down"
