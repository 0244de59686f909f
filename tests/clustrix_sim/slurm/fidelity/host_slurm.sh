#!/bin/sh
# Bring up (or stop) real Slurm 22.05 on this host, as root, configured as the site the
# fidelity scenarios give the simulator (fidelity_scenarios.SITE: cluster "simcluster", one node
# with 2 CPUs and 16000 MB, partition "normal", CR_Core_Memory, no DefMemPerCPU, no PrologFlags).
# Usage: host_slurm.sh start|stop.  Needs: apt-get install slurm-wlm slurmdbd munge mariadb-server
set -eu
HOST=$(hostname)
wait_for() {  # wait_for SECONDS COMMAND...: poll a real condition with a deadline
    deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for: $*" >&2; exit 1; }
        sleep 0.2
    done
}
if [ "${1:-start}" = stop ]; then
    for p in slurmd slurmctld slurmdbd; do
        [ -f /run/slurm-fidelity/$p.pid ] && kill "$(cat /run/slurm-fidelity/$p.pid)" 2>/dev/null || true
    done
    [ -f /run/mysqld/mysqld.pid ] && kill "$(cat /run/mysqld/mysqld.pid)" 2>/dev/null || true
    [ -f /run/munge/munged.pid ] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
    exit 0
fi
mkdir -p /run/slurm-fidelity /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
# slurm.conf is rendered from the fidelity site (fidelity_scenarios.SITE, a SlurmSite), the same
# object the simulator runs, so both sides of a comparison are one site.
here=$(cd "$(dirname "$0")" && pwd)
python3 "$here/fidelity_scenarios.py" render 22.05 "$HOST" /run/slurm-fidelity > /etc/slurm/slurm.conf.new
mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageUser=root
PidFile=/run/slurm-fidelity/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
CONF
chmod 600 /etc/slurm/slurmdbd.conf
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
chown munge:munge /etc/munge/munge.key /run/munge; chmod 0400 /etc/munge/munge.key
[ -S /run/munge/munge.socket.2 ] || runuser -u munge -- munged
mkdir -p /run/mysqld; chown mysql:mysql /run/mysqld
mysql -uroot -e 'select 1' >/dev/null 2>&1 || (mysqld_safe >/dev/null 2>&1 &)
wait_for 60 mysql -uroot -e 'select 1'
running() { [ -f "/run/slurm-fidelity/$1.pid" ] && kill -0 "$(cat "/run/slurm-fidelity/$1.pid")" 2>/dev/null; }
running slurmdbd || slurmdbd; wait_for 30 sacctmgr -n list cluster
running slurmctld || slurmctld; wait_for 30 scontrol ping
running slurmd || slurmd; wait_for 60 sh -c '[ "$(sinfo -h -o %t)" = idle ]'
echo "real Slurm is up on $HOST"
