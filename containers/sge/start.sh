#!/bin/bash
# Configure the Grid Engine cell for this container's hostname, start sge_qmaster and sge_execd
# (with a clean environment: execd passes its own to every job) and return once the queue
# instance is up. Traps: ../../shared/reference/real-schedulers.md (host_aliases, min_uid,
# execd caching its config, scheduler interval, accounting flush).
set -euo pipefail
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
host=$(hostname)
common=$SGE_ROOT/$SGE_CELL/common
conf=/etc/clustrix/sge
work=$(mktemp -d)
deadline=$((SECONDS + ${CLUSTRIX_START_TIMEOUT_S:-60}))
fail() { echo "start-scheduler: $*" >&2; tail -n 30 /var/spool/gridengine/qmaster/messages /var/spool/gridengine/execd/*/messages >&2 2>/dev/null || true; exit 1; }
until_ok() {
    local what=$1; shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
        sleep 0.1
    done
}
clean() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL "$@"; }
echo "$host" > "$common/act_qmaster"
echo "$host localhost" > "$common/host_aliases"
clean /usr/sbin/sge_qmaster
until_ok "sge_qmaster" qconf -sh
qconf -ah "$host" >/dev/null 2>&1 || true
qconf -as "$host" >/dev/null 2>&1 || true
printf 'hostname %s\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' "$host" > "$work/exechost"
qconf -Ae "$work/exechost" >/dev/null
printf 'group_name @allhosts\nhostlist %s\n' "$host" > "$work/allhosts"
qconf -Ahgrp "$work/allhosts" >/dev/null
qconf -Ap "$conf/smp.pe" >/dev/null
sed "s/@SLOTS@/$(nproc)/" "$conf/all.q.in" > "$work/all.q"
qconf -Aq "$work/all.q" >/dev/null
qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' \
                    -e 's/^flush_submit_sec .*/flush_submit_sec 1/' \
                    -e 's/^flush_finish_sec .*/flush_finish_sec 1/' > "$work/sconf"
qconf -Msconf "$work/sconf" >/dev/null
mkdir -p "$work/g"   # qconf -sconf wraps long values with "\" continuations: join them first
qconf -sconf global | sed -e ':a' -e '/\\$/N' -e 's/\\\n[[:space:]]*/ /' -e 'ta' \
    | sed -e '/^reporting_params/ s/ accounting_flush_time=[^ ]*//' \
          -e '/^reporting_params/ s/$/ accounting_flush_time=00:00:00/' > "$work/g/global"
qconf -Mconf "$work/g/global" >/dev/null
clean /usr/sbin/sge_execd   # after the config changes: execd caches the config at start
queue_up() { qstat -f -q all.q | awk -v q="all.q@$host" '$1 == q && NF == 5 {ok=1} END {exit !ok}'; }
until_ok "the queue instance all.q@$host" queue_up
rm -rf "$work"
echo "start-scheduler: Grid Engine $(qstat -help | head -n 1 | awk '{print $2}') up: $(qstat -f | grep "^all.q@")"
