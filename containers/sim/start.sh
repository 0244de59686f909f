#!/bin/bash
# Start clustrix_sim's controller as the login user (jobs run as that user, in its home) and put
# its tools (sbatch, qsub, ...) on every shell's PATH; return once the controller answers.
set -euo pipefail
scheduler=${CLUSTRIX_SIM_SCHEDULER:-slurm}
state=/var/lib/clustrix-sim/state
deadline=$((SECONDS + ${CLUSTRIX_START_TIMEOUT_S:-60}))
install -d -o clustrix -g clustrix /var/lib/clustrix-sim "$state"
cd /home/clustrix
runuser -u clustrix -- /opt/clustrix/bin/python -m clustrix_sim.cli up --scheduler "$scheduler" --state-dir "$state" \
    --no-ssh --nodes "${CLUSTRIX_SIM_NODES:-2}" --cores-per-node "$(nproc)" >"$state/up.log" 2>&1 &
until [ -f "$state/ready.json" ] && runuser -u clustrix -- /opt/clustrix/bin/python -m clustrix_sim.cli status --state-dir "$state" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "start-scheduler: the simulator did not start" >&2; cat "$state/up.log" >&2; exit 1; fi
    sleep 0.1
done
ln -sf "$state"/bin/* /usr/local/bin/
echo "start-scheduler: clustrix-sim ($scheduler) up: $(runuser -u clustrix -- /opt/clustrix/bin/python -m clustrix_sim.cli status --state-dir "$state" | head -n 1)"
