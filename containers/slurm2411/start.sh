#!/bin/bash
# Configure and start real Slurm 24.11 (single node) and return once sbatch/sacct work.
# Order: munge -> MariaDB -> slurmdbd -> slurmctld -> slurmd -> node idle.
# $CLUSTRIX_SLURM_CONF, when set, names a complete slurm.conf rendered for this container (the
# fidelity suite renders its site, clustrix_sim.slurm.site); otherwise slurm.conf.in is filled in.
set -euo pipefail
host=$(hostname)
deadline=$((SECONDS + ${CLUSTRIX_START_TIMEOUT_S:-60}))
until_ok() {  # until_ok WHAT CMD...: poll CMD until it succeeds, or fail naming WHAT
    local what=$1; shift
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then echo "start-scheduler: timed out waiting for $what" >&2; tail -n 30 /var/log/slurm/*.log >&2 || true; exit 1; fi
        sleep 0.1
    done
}
node=$(slurmd -C | head -n 1)
cpus=$(nproc); want=${CLUSTRIX_SLURM_CPUS:-8}
if [ "$cpus" -lt "$want" ]; then   # one socket, one thread per core: CPUs = cores = $want
    node=$(echo "$node" | sed -E -e "s/CPUs=[0-9]+/CPUs=$want/" -e "s/Boards=[0-9]+ //" \
        -e "s/SocketsPerBoard=[0-9]+/SocketsPerBoard=1/" -e "s/CoresPerSocket=[0-9]+/CoresPerSocket=$want/" \
        -e "s/ThreadsPerCore=[0-9]+/ThreadsPerCore=1/")
fi
if [ -n "${CLUSTRIX_SLURM_CONF:-}" ]; then
    cp "$CLUSTRIX_SLURM_CONF" /etc/slurm/slurm.conf
else
    sed -e "s/@HOST@/$host/g" -e "s/@NODE@/$node/" /etc/slurm/slurm.conf.in > /etc/slurm/slurm.conf
fi
chmod 600 /etc/slurm/slurmdbd.conf
dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown munge:munge /etc/munge/munge.key /run/munge; chmod 400 /etc/munge/munge.key
runuser -u munge -- /usr/sbin/munged
# --skip-ssl: MariaDB 11.8 turns TLS on by default, and over a TLS connection slurmdbd 24.11's
# first query fails in the client library (`5027 Number of columns in result (=1) set execeeds
# maxmimum allowed number of columns (=0)`, then `fatal: _check_mysql_concat_is_sane`). Without
# TLS (the server is on localhost) it works, as it does against MariaDB 10.11, which has no TLS.
(mysqld_safe --skip-syslog --skip-ssl >/var/log/mysqld_safe.log 2>&1 &)
until_ok "MariaDB" mysql --skip-ssl -uroot -e 'select 1'  # the client would require TLS too
slurmdbd
until_ok "slurmdbd" sacctmgr -n list cluster
slurmctld
slurmd
until_ok "the node to be idle" sh -c '[ "$(sinfo -h -o %t)" = idle ]'
until_ok "accounting (sacct)" sacct -n -X
echo "start-scheduler: $(sinfo -V) up: $(sinfo -h -o '%P %D %c %m %t')"
