#!/bin/bash
#$ -N my_job___x___y_
#$ -S /bin/bash
#$ -pe smp 4
#$ -l h_vmem=2048M
#$ -l h_rt=25:01:01
#$ -l gpu=2
#$ -q "gpu queue"
#$ -P "it's a $HOME; `rm -rf` \ value"
# clustrix: qos 'high' not sent: SGE has no QOS
#$ -t 1-5
#$ -tc 2
#$ -o "/home/u s/clustrix jobs/j$1 'x'/stdout.$TASK_ID.log"
#$ -e "/home/u s/clustrix jobs/j$1 'x'/stderr.$TASK_ID.log"
#$ -l scratch=10G
#$ -m n

# --- clustrix job body ---
cd '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'' || exit 97
export GREETING='it'"'"'s a $HOME; `rm -rf` \ value'
# setup lines from the profile / decorator (run verbatim)
echo setup-ran
CLUSTRIX_TASK="${SGE_TASK_ID:-}"
case "$CLUSTRIX_TASK" in ""|*[!0-9]*) CLUSTRIX_TASK="" ;; esac
[ -n "$CLUSTRIX_TASK" ] && CLUSTRIX_TASK=$((CLUSTRIX_TASK - 1))
'/opt/py 3/bin/python' -c 'import sys; from clustrix.payload.runner import main; sys.exit(main())' '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'' --task "$CLUSTRIX_TASK" --key-file '/home/u s/.clustrix/key file'
clustrix_status=$?
if [ "$clustrix_status" != 0 ] || [ ! -s '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK} ]; then
  printf "%s\n" "$clustrix_status" > '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}.tmp && mv -f '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}.tmp '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}
fi
exit "$clustrix_status"
