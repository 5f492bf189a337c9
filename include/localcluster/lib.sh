# Shared by up.sh, down.sh and status.sh: settings, the private layout, and daemon bookkeeping.
# Sourced, never run. Everything here only touches paths below $LSTFLOW_CLUSTER_ROOT and
# processes whose PID file, /proc comm and command line/environment prove they are ours.

set -euo pipefail

LOCALCLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SLURM_PROBE_STATES='^(idle|mixed|allocated|completing|planned)$'
STOP_TIMEOUT_S=20

die() {
    echo "lstflow-localcluster: error: $*" >&2
    exit 1
}

log() {
    echo "lstflow-localcluster: $*" >&2
}

# Apply defaults.conf for every key the environment does not set, then validate all of them.
load_settings() {
    local settings_file=$LOCALCLUSTER_DIR/defaults.conf line key
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        [[ $line =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]] ||
            die "$settings_file: cannot parse line '$line'; expected KEY=VALUE"
        key=${BASH_REMATCH[1]}
        [[ -n ${!key+x} ]] || export "$key=${BASH_REMATCH[2]}"
    done <"$settings_file"
    validate_settings
    derive_layout
}

validate_settings() {
    local key ports=()
    [[ $LSTFLOW_CLUSTER_ROOT =~ ^/[A-Za-z0-9._/-]+$ && $LSTFLOW_CLUSTER_ROOT != / ]] ||
        die "LSTFLOW_CLUSTER_ROOT='$LSTFLOW_CLUSTER_ROOT' must be an absolute path other than / made of [A-Za-z0-9._/-]"
    for key in SSH SLURMCTLD SLURMD SLURMDBD MARIADB; do
        key=LSTFLOW_CLUSTER_${key}_PORT
        [[ ${!key} =~ ^[0-9]+$ ]] && ((${!key} >= 1024 && ${!key} <= 65535)) ||
            die "$key='${!key}' must be a port number between 1024 and 65535"
        ports+=("${!key}")
    done
    [[ $(printf '%s\n' "${ports[@]}" | sort -u | wc -l) -eq ${#ports[@]} ]] ||
        die "the LSTFLOW_CLUSTER_*_PORT settings must be five different ports, got ${ports[*]}"
    [[ $LSTFLOW_CLUSTER_SSH_USER =~ ^[a-z_][a-z0-9_-]{0,30}$ && $LSTFLOW_CLUSTER_SSH_USER != root ]] ||
        die "LSTFLOW_CLUSTER_SSH_USER='$LSTFLOW_CLUSTER_SSH_USER' must be a non-root user name like lstanalyzer"
    [[ $LSTFLOW_CLUSTER_ACCOUNTING =~ ^(slurmdbd|none)$ ]] ||
        die "LSTFLOW_CLUSTER_ACCOUNTING='$LSTFLOW_CLUSTER_ACCOUNTING' must be slurmdbd or none"
    [[ $LSTFLOW_CLUSTER_CGROUP =~ ^(auto|yes|no)$ ]] ||
        die "LSTFLOW_CLUSTER_CGROUP='$LSTFLOW_CLUSTER_CGROUP' must be auto, yes or no"
    [[ $LSTFLOW_CLUSTER_INSTALL =~ ^(auto|no)$ ]] ||
        die "LSTFLOW_CLUSTER_INSTALL='$LSTFLOW_CLUSTER_INSTALL' must be auto or no"
    for key in MINJOBAGE DEFMEMPERCPU MAXARRAYSIZE; do
        key=LSTFLOW_CLUSTER_$key
        [[ ${!key} =~ ^[1-9][0-9]*$ ]] || die "$key='${!key}' must be a positive integer"
    done
}

# The private layout. Nothing outside $ROOT (and /run/sshd, which sshd insists on) is written.
derive_layout() {
    ROOT=$LSTFLOW_CLUSTER_ROOT
    ETC=$ROOT/etc
    RUN=$ROOT/run
    SPOOL=$ROOT/spool
    LOGDIR=$ROOT/log
    SSHDIR=$ROOT/ssh
    CLIENT=$ROOT/client
    SCRATCH=$ROOT/scratch
    LOCKFILE=$ROOT/lock
    NODE=$(hostname -s)

    export SLURM_CONF=$ETC/slurm.conf
    MUNGE_KEY=$ETC/munge/munge.key
    MUNGE_SOCKET=$RUN/munge/munge.socket.2
    MARIADB_SOCKET=$RUN/mysql/mariadbd.sock
    MARIADB_DATADIR=$SPOOL/mysql
    DB_PASSWORD_FILE=$ETC/db_password
    CTLD_STATE_DIR=$SPOOL/ctld
    SLURMD_SPOOL_DIR=$SPOOL/d
    SLURM_LOG_DIR=$LOGDIR/slurm
    SLURMCTLD_PIDFILE=$RUN/slurmctld.pid
    SLURMD_PIDFILE=$RUN/slurmd.pid
    SLURMDBD_PIDFILE=$RUN/slurmdbd.pid
    SSHD_PIDFILE=$RUN/sshd.pid
    SSH_HOST_KEY=$SSHDIR/ssh_host_ed25519_key
    SSH_AUTHORIZED_KEYS_DIR=$SSHDIR/authorized_keys
    CLIENT_KEY=$CLIENT/id_ed25519
    KNOWN_HOSTS=$CLIENT/known_hosts
    ENV_FILE=$CLIENT/env

    declare -gA PIDFILE=(
        [munged]=$RUN/munge/munged.pid
        [mariadbd]=$RUN/mysql/mariadbd.pid
        [slurmdbd]=$SLURMDBD_PIDFILE
        [slurmctld]=$SLURMCTLD_PIDFILE
        [slurmd]=$SLURMD_PIDFILE
        [sshd]=$SSHD_PIDFILE
    )
    declare -gA PORT=(
        [mariadbd]=$LSTFLOW_CLUSTER_MARIADB_PORT
        [slurmdbd]=$LSTFLOW_CLUSTER_SLURMDBD_PORT
        [slurmctld]=$LSTFLOW_CLUSTER_SLURMCTLD_PORT
        [slurmd]=$LSTFLOW_CLUSTER_SLURMD_PORT
        [sshd]=$LSTFLOW_CLUSTER_SSH_PORT
    )
    STOP_ORDER=(sshd slurmd slurmctld slurmdbd mariadbd munged)
    if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd ]]; then
        REQUIRED_DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd sshd)
    else
        REQUIRED_DAEMONS=(munged slurmctld slurmd sshd)
    fi
}

# Serialise every mutating run (up/down) across processes, checkouts and CI clones.
# Daemons started while the lock is held must get "9>&-", or they would hold it forever.
take_lock() {
    mkdir -p "$ROOT"
    chmod 0755 "$ROOT"
    exec 9>"$LOCKFILE"
    flock 9
}

# True when PID is a live (non-zombie) process named COMM that was started for this root.
is_our_process() {
    local pid=$1 comm=$2 stat state
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    state=${stat##*) }
    [[ ${state%% *} != Z ]] || return 1
    grep -qaF -- "$ROOT/" "/proc/$pid/cmdline" "/proc/$pid/environ" 2>/dev/null
}

# Print the PID of our running NAME daemon; fail when it is not running (stale or no PID file).
daemon_pid() {
    local name=$1 pid
    [[ -r ${PIDFILE[$name]} ]] || return 1
    read -r pid <"${PIDFILE[$name]}" || return 1
    is_our_process "$pid" "$name" || return 1
    echo "$pid"
}

# Print "<process> (pid N)" for whoever listens on 127.0.0.1:PORT, or nothing.
port_holder() {
    local line
    line=$(ss -ltnpH "sport = :$1" 2>/dev/null | head -n 1)
    [[ -n $line ]] || return 0
    if [[ $line =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
        echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]})"
    else
        echo "an unknown process"
    fi
}

# Refuse to start NAME when something that is not our NAME holds its port.
require_free_port() {
    local name=$1 holder
    holder=$(port_holder "${PORT[$name]}")
    [[ -z $holder ]] ||
        die "port ${PORT[$name]} needed by $name is held by $holder, which this cluster did not start; stop it or choose another port in $LOCALCLUSTER_DIR/defaults.conf (or its environment variable)"
}

# Poll COMMAND every 0.1 s until it succeeds; fail after TIMEOUT_S seconds.
wait_until() {
    local timeout_s=$1 deadline
    shift
    deadline=$((SECONDS + timeout_s))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# SIGTERM our NAME daemon, wait on its PID (not its PID file, which it removes before exiting),
# SIGKILL after a timeout. A missing or stale PID file is cleaned up silently.
stop_daemon() {
    local name=$1 pid
    if ! pid=$(daemon_pid "$name"); then
        rm -f "${PIDFILE[$name]}"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until "$STOP_TIMEOUT_S" process_gone "$pid" "$name"; then
        log "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_until 10 process_gone "$pid" "$name" || die "$name (pid $pid) survived SIGKILL"
    fi
    rm -f "${PIDFILE[$name]}"
}

process_gone() {
    ! is_our_process "$1" "$2"
}

node_state() {
    sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1
}

node_usable() {
    [[ $(node_state) =~ $SLURM_PROBE_STATES ]]
}

# Print TEMPLATE with every @NAME@ replaced by the value of variable NAME; an unset NAME is an
# error, so a template and this script cannot silently drift apart.
render_template() {
    local template=$1 text name
    text=$(<"$template")
    while [[ $text =~ @([A-Z][A-Z0-9_]*)@ ]]; do
        name=${BASH_REMATCH[1]}
        [[ -n ${!name+x} ]] || die "$template uses @$name@ but $name is not set"
        text=${text//"@$name@"/${!name}}
    done
    printf '%s\n' "$text"
}

# set_plugin_types yes|no (cgroup mode): process tracking, task, gather and accounting plugins.
set_plugin_types() {
    CGROUP_MODE=$1
    if [[ $CGROUP_MODE == yes ]]; then
        PROCTRACK_TYPE=proctrack/cgroup
        TASK_PLUGIN=task/cgroup,task/affinity
        JOBACCT_GATHER_TYPE=jobacct_gather/cgroup
        JOBACCT_GATHER_PARAMS=NoShared
    else
        # No cgroups: slurmstepd polls memory use and kills the step above its limit instead.
        PROCTRACK_TYPE=proctrack/linuxproc
        TASK_PLUGIN=task/none
        JOBACCT_GATHER_TYPE=jobacct_gather/linux
        JOBACCT_GATHER_PARAMS=NoShared,OverMemoryKill
    fi
    if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd ]]; then
        ACCOUNTING_STORAGE_TYPE=accounting_storage/slurmdbd
    else
        ACCOUNTING_STORAGE_TYPE=accounting_storage/none
    fi
}

# set_node_hardware "<first line of slurmd -C>": CPUs and topology as slurmd sees them, and
# RealMemory 5 % below the real value (a node configured above it is drained, "Low RealMemory").
set_node_hardware() {
    local hardware=$1
    [[ $hardware =~ RealMemory=([0-9]+) ]] || die "cannot read RealMemory from 'slurmd -C': $hardware"
    REAL_MEMORY=$((BASH_REMATCH[1] * 95 / 100))
    NODE_HARDWARE=$(grep -oE '(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' <<<"$hardware" | paste -sd' ')
}
