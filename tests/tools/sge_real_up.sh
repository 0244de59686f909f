#!/bin/sh
# Bring up REAL Grid Engine 8.1.9 (Debian bookworm packages) as a one-host cell, as root.
# Not used at test time: it makes the oracle the differential tests and the captures use.
#   sh tests/tools/sge_real_up.sh          # install (once), configure, start
#   sh tests/tools/sge_real_up.sh down     # stop the daemons
# Every step follows shared/reference/real-schedulers.md (traps included).
set -eu
H=$(hostname)
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
CLEAN="env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL"
QPID=/var/spool/gridengine/qmaster/qmaster.pid
EPID=$(ls /var/spool/gridengine/execd/*/execd.pid 2>/dev/null | head -1)  # its spool dir is named as the host resolves (localhost here)
EPID=${EPID:-/var/spool/gridengine/execd/$H/execd.pid}
# Only this host's daemons, by their pid files (containers on the host run their own).
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ "${1:-}" = down ]; then
    for f in $EPID $QPID; do alive $f && kill "$(cat $f)"; done
    exit 0
fi
if ! command -v qsub >/dev/null; then
    printf '%s\n' "gridengine-common shared/gridenginemaster string $H" \
        "gridengine-common shared/gridengineconfig boolean true" \
        "gridengine-common shared/gridenginecell string default" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q gridengine-master gridengine-exec gridengine-client
fi
echo "$H" > $SGE_ROOT/$SGE_CELL/common/act_qmaster
echo "$H localhost" > $SGE_ROOT/$SGE_CELL/common/host_aliases
alive $QPID || $CLEAN /usr/sbin/sge_qmaster
for i in $(seq 50); do qstat >/dev/null 2>&1 && break; sleep 0.2; done
T=$(mktemp -d)
# qconf folds long values with a trailing backslash; its -M readers want one line each
join() { awk '/\\$/ { sub(/\\$/, ""); printf "%s", $0; next } 1'; }
qconf -sconf global | join | sed -e 's/^min_uid .*/min_uid 100/' -e 's/^min_gid .*/min_gid 100/' \
    -e 's/^reporting_params .*/reporting_params accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00/' \
    > $T/global
qconf -Mconf $T/global || true
qconf -ah "$H" >/dev/null 2>&1 || true
qconf -as "$H" >/dev/null 2>&1 || true
printf 'hostname %s\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' "$H" > $T/exec
qconf -Ae $T/exec >/dev/null 2>&1 || qconf -Me $T/exec
printf 'group_name @allhosts\nhostlist %s\n' "$H" > $T/hgrp
qconf -Ahgrp $T/hgrp >/dev/null 2>&1 || qconf -Mhgrp $T/hgrp
printf 'pe_name smp\nslots 999\nuser_lists NONE\nxuser_lists NONE\nstart_proc_args /bin/true\nstop_proc_args /bin/true\nallocation_rule $pe_slots\ncontrol_slaves FALSE\njob_is_first_task TRUE\nurgency_slots min\naccounting_summary FALSE\nqsort_args NONE\n' > $T/pe
qconf -Ap $T/pe >/dev/null 2>&1 || qconf -Mp $T/pe
qconf -sq all.q > $T/q 2>/dev/null || cat > $T/q <<Q
qname all.q
hostlist @allhosts
seq_no 0
load_thresholds NONE
suspend_thresholds NONE
nsuspend 1
suspend_interval 00:05:00
priority 0
min_cpu_interval 00:05:00
processors UNDEFINED
qtype BATCH INTERACTIVE
ckpt_list NONE
pe_list smp
rerun FALSE
slots 2
tmpdir /tmp
shell /bin/sh
prolog NONE
epilog NONE
shell_start_mode posix_compliant
starter_method NONE
suspend_method NONE
resume_method NONE
terminate_method NONE
notify 00:00:60
owner_list NONE
user_lists NONE
xuser_lists NONE
subordinate_list NONE
complex_values NONE
projects NONE
xprojects NONE
calendar NONE
initial_state default
s_rt INFINITY
h_rt INFINITY
s_cpu INFINITY
h_cpu INFINITY
s_fsize INFINITY
h_fsize INFINITY
s_data INFINITY
h_data INFINITY
s_stack INFINITY
h_stack INFINITY
s_core INFINITY
h_core INFINITY
s_rss INFINITY
h_rss INFINITY
s_vmem INFINITY
h_vmem INFINITY
Q
qconf -sq all.q >/dev/null 2>&1 && qconf -Mq $T/q >/dev/null || qconf -Aq $T/q >/dev/null
qconf -ssconf | join | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' -e 's/^flush_submit_sec .*/flush_submit_sec 1/' \
    -e "s/^flush_finish_sec .*/flush_finish_sec 1/" > $T/sconf
qconf -Msconf $T/sconf >/dev/null
rm -rf "$T"
alive $EPID && kill "$(cat $EPID)" && sleep 2
$CLEAN /usr/sbin/sge_execd
for i in $(seq 100); do qhost 2>/dev/null | grep -q "^$H .* [0-9.]*[MG] " && break; sleep 0.2; done
qstat -f
