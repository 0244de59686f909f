#!/bin/bash
# PID 1's child (docker-init runs it). Installs the injected SSH material, starts the scheduler
# (/usr/local/lib/clustrix/start-scheduler, from the scheduler layer: it returns once the
# scheduler answers), starts sshd, prints the ready line the Python side waits for, then holds.
#
# CLUSTRIX_HOLD=stdin (the default when a client is attached): exit when stdin reaches EOF, i.e.
# when the process that started the container is gone (StdinOnce), so the container, started
# with AutoRemove, disappears even after a crash of its owner. CLUSTRIX_HOLD=forever: until stopped.
set -euo pipefail
say() { echo "clustrix-container: $*"; }
inject=/etc/clustrix/inject
[ -s "$inject/ssh_host_ed25519_key" ] || { say "missing $inject/ssh_host_ed25519_key (inject it before start)"; exit 2; }
[ -s "$inject/authorized_keys" ] || { say "missing $inject/authorized_keys (inject it before start)"; exit 2; }
install -m 600 -o root -g root "$inject/ssh_host_ed25519_key" /etc/ssh/clustrix_host_ed25519_key
install -d -m 700 -o clustrix -g clustrix /home/clustrix/.ssh
install -m 600 -o clustrix -g clustrix "$inject/authorized_keys" /home/clustrix/.ssh/authorized_keys
say "starting the scheduler ($(hostname))"
/usr/local/lib/clustrix/start-scheduler
mkdir -p /run/sshd
/usr/sbin/sshd -E /var/log/sshd.log   # returns once it listens (it daemonizes after binding)
say "READY"
shutdown() { say "stopping"; exit 0; }
trap shutdown TERM INT
if [ "${CLUSTRIX_HOLD:-stdin}" = stdin ]; then
    cat <&0 >/dev/null &   # explicit <&0: bash gives background jobs /dev/null otherwise
else
    sleep infinity &
fi
wait $! || true
say "owner gone (stdin closed): exiting"
