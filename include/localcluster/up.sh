#!/usr/bin/env bash
# Bring up (or re-check) the machine-wide local Slurm-over-SSH cluster; idempotent and locked.
#
# Starts munged, mariadbd, slurmdbd, slurmctld, slurmd and an sshd on 127.0.0.1, all in the
# private layout below $LSTFLOW_CLUSTER_ROOT, then proves the whole chain with an ssh -> sbatch
# probe job. A daemon already running is left alone unless its generated config changed.
# Writes the client material (key, known_hosts, env) to $LSTFLOW_CLUSTER_ROOT/client.
# Settings: defaults.conf next to this script, each overridable by its environment variable.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "the local cluster must be brought up as root (it starts system daemons)"
load_settings
take_lock

# --- packages ------------------------------------------------------------------------------

# command -> Debian package providing it
declare -A PACKAGE_OF=(
    [/usr/sbin/slurmctld]=slurm-wlm [/usr/sbin/slurmd]=slurm-wlm [/usr/bin/sbatch]=slurm-wlm
    [/usr/sbin/munged]=munge [/usr/sbin/sshd]=openssh-server [/usr/bin/ssh-keygen]=openssh-client
    [/usr/bin/ss]=iproute2
)
if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd ]]; then
    PACKAGE_OF+=([/usr/sbin/slurmdbd]=slurmdbd [/usr/sbin/mariadbd]=mariadb-server
        [/usr/bin/mariadb-install-db]=mariadb-server)
fi

install_missing_packages() {
    local path missing=()
    for path in "${!PACKAGE_OF[@]}"; do
        [[ -x $path ]] || missing+=("${PACKAGE_OF[$path]}")
    done
    ((${#missing[@]})) || return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    [[ $LSTFLOW_CLUSTER_INSTALL == auto ]] ||
        die "missing packages: ${missing[*]}; install them or set LSTFLOW_CLUSTER_INSTALL=auto"
    log "installing ${missing[*]}"
    # Package scripts must not start system-wide daemons on the default ports: deny them for the
    # duration of the install unless the machine already has a policy.
    local policy=/usr/sbin/policy-rc.d added_policy=no
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        added_policy=yes
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null || apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
    if [[ $added_policy == yes ]]; then
        rm -f "$policy"
        trap - EXIT
    fi
}

# --- host, users, directories, keys ---------------------------------------------------------

prepare_host() {
    getent hosts "$NODE" >/dev/null || echo "127.0.0.1 $NODE" >>/etc/hosts
    local user=$LSTFLOW_CLUSTER_SSH_USER
    id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
    # useradd leaves '!' (locked) in shadow, and sshd without PAM then refuses even key logins.
    [[ $(getent shadow "$user" | cut -d: -f2) == '*' ]] || usermod -p '*' "$user"
    mkdir -p /run/sshd
}

# make_dir PATH OWNER MODE
make_dir() {
    mkdir -p "$1"
    chown "$2" "$1"
    chmod "$3" "$1"
}

prepare_layout() {
    # munged refuses every log/key path with a component not owned by root or munge.
    make_dir "$ETC" root:root 0755
    make_dir "$ETC/munge" munge:munge 0700
    make_dir "$RUN" root:root 0755
    make_dir "$RUN/munge" munge:munge 0755
    make_dir "$SPOOL" root:root 0755
    make_dir "$SPOOL/munge" munge:munge 0700
    make_dir "$CTLD_STATE_DIR" slurm:slurm 0700
    make_dir "$SLURMD_SPOOL_DIR" root:root 0755
    make_dir "$LOGDIR" root:root 0755
    make_dir "$LOGDIR/munge" munge:munge 0700
    make_dir "$SLURM_LOG_DIR" slurm:slurm 0755
    make_dir "$SSHDIR" root:root 0755
    make_dir "$SSH_AUTHORIZED_KEYS_DIR" root:root 0755
    make_dir "$CLIENT" root:root 0755
    make_dir "$SCRATCH" root:root 0755
    if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd ]]; then
        make_dir "$RUN/mysql" mysql:mysql 0755
        make_dir "$MARIADB_DATADIR" mysql:mysql 0700
        make_dir "$LOGDIR/mysql" mysql:mysql 0750
    fi
}

prepare_keys() {
    if [[ ! -s $MUNGE_KEY ]]; then
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
    [[ -s $SSH_HOST_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C "lstflow-localcluster-host" -f "$SSH_HOST_KEY"
    [[ -s $CLIENT_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C "lstflow-localcluster-client" -f "$CLIENT_KEY"
    chmod 0600 "$SSH_HOST_KEY" "$CLIENT_KEY"
    install -m 0644 -o root -g root "$CLIENT_KEY.pub" "$SSH_AUTHORIZED_KEYS_DIR/$LSTFLOW_CLUSTER_SSH_USER"
    printf '[127.0.0.1]:%s %s\n' "$LSTFLOW_CLUSTER_SSH_PORT" "$(cut -d' ' -f1,2 "$SSH_HOST_KEY.pub")" \
        >"$KNOWN_HOSTS.tmp"
    mv "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
    if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd && ! -s $DB_PASSWORD_FILE ]]; then
        (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '+/=\n' >"$DB_PASSWORD_FILE")
    fi
}

# --- generated configuration ------------------------------------------------------------------

cgroup_v1_writable() {
    local controller probe
    for controller in memory freezer; do
        probe=/sys/fs/cgroup/$controller/lstflow_probe_$$
        mkdir "$probe" 2>/dev/null || return 1
        rmdir "$probe"
    done
}

# Decide the values the templates need that depend on this machine.
derive_machine_values() {
    local use_cgroup=no
    case $LSTFLOW_CLUSTER_CGROUP in
        yes) cgroup_v1_writable || die "LSTFLOW_CLUSTER_CGROUP=yes but cgroup v1 memory/freezer under /sys/fs/cgroup is not writable; use auto or no"
            use_cgroup=yes ;;
        auto) cgroup_v1_writable && use_cgroup=yes ;;
    esac
    set_plugin_types "$use_cgroup"
    set_node_hardware "$(slurmd -C | head -n 1)"
    if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd ]]; then
        DB_PASSWORD=$(<"$DB_PASSWORD_FILE")
    fi
}

# install_config TEMPLATE|- DEST OWNER MODE [DAEMON...]: write the rendered template (or stdin)
# to DEST; when it differs from what is there, schedule DAEMONs for a restart.
declare -A RESTART=()
STARTED=()
install_config() {
    local source=$1 dest=$2 owner=$3 mode=$4 staged daemon
    shift 4
    staged=$(mktemp "$dest.XXXXXX")
    if [[ $source == - ]]; then cat >"$staged"; else render_template "$source" >"$staged"; fi
    chown "$owner" "$staged"
    chmod "$mode" "$staged"
    if [[ -f $dest ]] && cmp -s "$staged" "$dest"; then
        rm -f "$staged"
        return 0
    fi
    mv "$staged" "$dest"
    for daemon in "$@"; do RESTART[$daemon]=1; done
}

write_configs() {
    local templates=$LOCALCLUSTER_DIR/templates
    install_config "$templates/slurm.conf" "$ETC/slurm.conf" root:root 0644 slurmctld slurmd
    install_config "$templates/cgroup.conf" "$ETC/cgroup.conf" root:root 0644 slurmctld slurmd
    install_config "$templates/sshd_config" "$ETC/sshd_config" root:root 0644 sshd
    if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd ]]; then
        # slurmdbd insists on owner SlurmUser and mode 600, next to $SLURM_CONF.
        install_config "$templates/slurmdbd.conf" "$ETC/slurmdbd.conf" slurm:slurm 0600 slurmdbd
        install_config - "$ETC/mariadbd.args" root:root 0644 mariadbd slurmdbd < <(mariadbd_arguments)
    fi
}

# mariadbd has no config file of ours (--no-defaults keeps /etc/mysql out): its arguments are
# the "config" compared between runs.
mariadbd_arguments() {
    printf '%s\n' --no-defaults "--datadir=$MARIADB_DATADIR" "--socket=$MARIADB_SOCKET" \
        "--pid-file=${PIDFILE[mariadbd]}" "--port=$LSTFLOW_CLUSTER_MARIADB_PORT" \
        --bind-address=127.0.0.1 --skip-name-resolve --user=mysql \
        "--log-error=$LOGDIR/mysql/mariadbd.err" --innodb-buffer-pool-size=1024M
}

# --- daemons ----------------------------------------------------------------------------------

munge_round_trip() {
    munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET"
}

mariadb_ping() {
    mariadb-admin --no-defaults -S "$MARIADB_SOCKET" -u root ping
}

tcp_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

controller_up() {
    scontrol ping | grep -q 'is UP'
}

# Print the last lines of LOGFILE and fail, naming DAEMON.
fail_with_log() {
    local daemon=$1 logfile=$2
    echo "--- last lines of $logfile ---" >&2
    tail -n 20 "$logfile" >&2 2>/dev/null || true
    die "$daemon did not become ready; see $logfile"
}

start_munged() {
    local logfile=$LOGDIR/munge/munged.log
    if ! daemon_pid munged >/dev/null; then
        log "starting munged"
        STARTED+=("munged")
        runuser -u munge -- /usr/sbin/munged "--socket=$MUNGE_SOCKET" "--key-file=$MUNGE_KEY" \
            "--pid-file=${PIDFILE[munged]}" "--log-file=$logfile" \
            "--seed-file=$SPOOL/munge/munged.seed" </dev/null >/dev/null 2>&1 9>&- ||
            fail_with_log munged "$logfile"
    fi
    wait_until 10 munge_round_trip || fail_with_log munged "$logfile"
}

start_mariadbd() {
    local logfile=$LOGDIR/mysql/mariadbd.err args
    if ! daemon_pid mariadbd >/dev/null; then
        require_free_port mariadbd
        if [[ ! -d $MARIADB_DATADIR/mysql ]]; then
            log "initialising the accounting database in $MARIADB_DATADIR"
            mariadb-install-db --no-defaults "--datadir=$MARIADB_DATADIR" --user=mysql \
                --auth-root-authentication-method=socket --skip-test-db \
                >"$LOGDIR/mysql/install-db.log" 2>&1 || fail_with_log mariadb-install-db "$LOGDIR/mysql/install-db.log"
        fi
        log "starting mariadbd"
        STARTED+=("mariadbd")
        mapfile -t args <"$ETC/mariadbd.args"
        setsid /usr/sbin/mariadbd "${args[@]}" </dev/null >>"$LOGDIR/mysql/console.log" 2>&1 9>&- &
        wait_until 30 mariadb_ping || fail_with_log mariadbd "$logfile"
        local password
        password=$(<"$DB_PASSWORD_FILE")
        mariadb --no-defaults -S "$MARIADB_SOCKET" -u root -e "
            CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$password';
            CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$password';
            ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$password';
            ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$password';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';" ||
            die "could not create the slurm database user in the private mariadb"
    fi
    wait_until 30 mariadb_ping || fail_with_log mariadbd "$logfile"
}

start_slurmdbd() {
    local logfile=$SLURM_LOG_DIR/slurmdbd.log
    if ! daemon_pid slurmdbd >/dev/null; then
        require_free_port slurmdbd
        log "starting slurmdbd"
        STARTED+=("slurmdbd")
        /usr/sbin/slurmdbd </dev/null >/dev/null 2>&1 9>&- || fail_with_log slurmdbd "$logfile"
    fi
    wait_until 30 tcp_open "$LSTFLOW_CLUSTER_SLURMDBD_PORT" || fail_with_log slurmdbd "$logfile"
}

start_slurmctld() {
    local logfile=$SLURM_LOG_DIR/slurmctld.log
    if ! daemon_pid slurmctld >/dev/null; then
        require_free_port slurmctld
        log "starting slurmctld"
        STARTED+=("slurmctld")
        /usr/sbin/slurmctld -f "$SLURM_CONF" </dev/null >/dev/null 2>&1 9>&- || fail_with_log slurmctld "$logfile"
    fi
    wait_until 30 controller_up || fail_with_log slurmctld "$logfile"
}

start_slurmd() {
    local logfile=$SLURM_LOG_DIR/slurmd.log
    if ! daemon_pid slurmd >/dev/null; then
        require_free_port slurmd
        log "starting slurmd"
        STARTED+=("slurmd")
        /usr/sbin/slurmd -f "$SLURM_CONF" -N "$NODE" </dev/null >/dev/null 2>&1 9>&- || fail_with_log slurmd "$logfile"
    fi
    if ! wait_until 30 node_usable; then
        # A node left down or drained (e.g. by an earlier crash) comes back once slurmd is healthy.
        scontrol update "NodeName=$NODE" State=RESUME >/dev/null 2>&1 || true
        wait_until 15 node_usable ||
            fail_with_log "slurmd (node $NODE is '$(node_state)')" "$logfile"
    fi
}

start_sshd() {
    local logfile=$LOGDIR/sshd.log
    if ! daemon_pid sshd >/dev/null; then
        require_free_port sshd
        /usr/sbin/sshd -t -f "$ETC/sshd_config" || die "sshd rejects the generated $ETC/sshd_config"
        log "starting sshd"
        STARTED+=("sshd")
        /usr/sbin/sshd -f "$ETC/sshd_config" -E "$logfile" </dev/null >/dev/null 2>&1 9>&- ||
            fail_with_log sshd "$logfile"
    fi
    wait_until 10 tcp_open "$LSTFLOW_CLUSTER_SSH_PORT" || fail_with_log sshd "$logfile"
}

accounting_registered() {
    sacctmgr -n -P list cluster format=cluster | grep -qx lstflow
}

# --- client material and the end-to-end probe ---------------------------------------------------

write_client_env() {
    cat >"$ENV_FILE.tmp" <<EOF
SLURM_SSH_HOST=127.0.0.1
SLURM_SSH_PORT=$LSTFLOW_CLUSTER_SSH_PORT
SLURM_SSH_USER=$LSTFLOW_CLUSTER_SSH_USER
SLURM_SSH_KEY=$CLIENT_KEY
SLURM_SSH_KNOWN_HOSTS=$KNOWN_HOSTS
SLURM_CONF=$SLURM_CONF
SLURM_NODE=$NODE
SLURM_ACCOUNTING=$LSTFLOW_CLUSTER_ACCOUNTING
SLURM_CGROUP=$CGROUP_MODE
SLURM_MINJOBAGE=$LSTFLOW_CLUSTER_MINJOBAGE
LSTFLOW_CLUSTER_ROOT=$ROOT
LSTFLOW_CLUSTER_SCRATCH=$SCRATCH
EOF
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

ssh_as_job_user() {
    ssh -i "$CLIENT_KEY" -p "$LSTFLOW_CLUSTER_SSH_PORT" -o BatchMode=yes \
        -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$KNOWN_HOSTS" -o ConnectTimeout=10 \
        "$LSTFLOW_CLUSTER_SSH_USER@127.0.0.1" "$@"
}

probe_job_state() {
    squeue -h -t all -j "$1" -o %T 2>/dev/null
}

probe_job_finished() {
    [[ $(probe_job_state "$1") =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL)$ ]]
}

# Finished, or pending only because other users' jobs fill the node.
probe_settled() {
    probe_job_finished "$1" || {
        [[ $(squeue -h -j "$1" -o %r 2>/dev/null) =~ ^(Resources|Priority)$ ]] &&
            [[ $(node_state) =~ ^(mixed|allocated)$ ]]
    }
}

# After starting anything: submit a trivial job exactly as clients will (over ssh, strict host
# key, as the job user); it must reach COMPLETED. If jobs that survived a restart keep the node
# busy, the scheduler's "pending: Resources" is accepted as proof instead, and the probe cancelled.
probe_ssh_sbatch_job() {
    local job_id state
    job_id=$(ssh_as_job_user sbatch --parsable --job-name=lstflow-probe --output=/dev/null \
        --chdir=/ --time=1 --wrap true) ||
        die "ssh -> sbatch probe failed; see $LOGDIR/sshd.log and $SLURM_LOG_DIR/slurmctld.log"
    wait_until 60 probe_settled "$job_id" ||
        die "probe job $job_id did not finish within 60 s (state '$(probe_job_state "$job_id")')"
    state=$(probe_job_state "$job_id")
    if [[ $state =~ ^(CONFIGURING|RUNNING|COMPLETING)$ ]]; then
        # it started between the two looks at it: give it the time to finish
        wait_until 60 probe_job_finished "$job_id" ||
            die "probe job $job_id did not finish within 60 s (state '$(probe_job_state "$job_id")')"
        state=$(probe_job_state "$job_id")
    fi
    if [[ $state == PENDING ]]; then
        scancel "$job_id" 2>/dev/null || true
        log "node busy with other jobs; probe job $job_id was accepted and cancelled"
        return 0
    fi
    [[ $state == COMPLETED ]] ||
        die "probe job $job_id ended $state: $(scontrol show job "$job_id" 2>&1 | tr -s ' \n' ' ')"
}

# When everything was already running, a real job could queue behind others' work for minutes:
# check the same ssh -> sbatch path with --test-only, which the scheduler answers at once.
probe_ssh_sbatch_test_only() {
    local answer
    answer=$(ssh_as_job_user sbatch --test-only --job-name=lstflow-probe --output=/dev/null \
        --chdir=/ --time=1 --wrap true 2>&1) || true
    [[ $answer == *" to start at "* ]] ||
        die "ssh -> sbatch --test-only probe failed ($answer); see $LOGDIR/sshd.log and $SLURM_LOG_DIR/slurmctld.log"
}

# --- main -----------------------------------------------------------------------------------

install_missing_packages
prepare_host
prepare_layout
prepare_keys
derive_machine_values
write_configs
for daemon in "${STOP_ORDER[@]}"; do
    if [[ -n ${RESTART[$daemon]:-} ]] && daemon_pid "$daemon" >/dev/null; then
        log "configuration of $daemon changed"
        stop_daemon "$daemon"
    fi
done
start_munged
if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd ]]; then
    start_mariadbd
    start_slurmdbd
fi
start_slurmctld
start_slurmd
if [[ $LSTFLOW_CLUSTER_ACCOUNTING == slurmdbd ]]; then
    wait_until 30 accounting_registered ||
        die "slurmctld did not register cluster 'lstflow' with slurmdbd; see $SLURM_LOG_DIR/slurmdbd.log"
fi
start_sshd
write_client_env
if ((${#STARTED[@]})); then
    probe_ssh_sbatch_job
else
    probe_ssh_sbatch_test_only
fi
log "ready: env file $ENV_FILE"
