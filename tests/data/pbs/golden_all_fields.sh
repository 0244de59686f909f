#!/bin/bash
#PBS -N my_job___x___y_
#PBS -S /bin/bash
#PBS -l select=2:ncpus=4:mem=8192mb:ngpus=2
#PBS -l place=scatter
#PBS -l walltime=25:01:01
#PBS -q gpu\ queue
#PBS -A it\'s\ a\ \"quoted\"\ $HOME;\ `rm\ -rf`\ \\\ value
# clustrix: qos 'high' not sent: PBS has no QOS
#PBS -J 0-4%2
#PBS -r y
#PBS -o /home/u\ s/clustrix\ jobs/j$1\ \'x\'/stdout.^array_index^.log
#PBS -e /home/u\ s/clustrix\ jobs/j$1\ \'x\'/stderr.^array_index^.log
#PBS -l scratch=10gb
#PBS -m n

# --- clustrix job body ---
cd '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'' || exit 97
export GREETING='it'"'"'s a "quoted" $HOME; `rm -rf` \ value'
# setup lines from the profile / decorator (run verbatim)
echo setup-ran
CLUSTRIX_TASK="${PBS_ARRAY_INDEX:-}"
case "$CLUSTRIX_TASK" in ""|*[!0-9]*) CLUSTRIX_TASK="" ;; esac
'/opt/py 3/bin/python' -c 'import sys; from clustrix.payload.runner import main; sys.exit(main())' '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'' --task "$CLUSTRIX_TASK" --key-file '/home/u s/.clustrix/key file'
clustrix_status=$?
if [ "$clustrix_status" != 0 ] || [ ! -s '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK} ]; then
  printf "%s\n" "$clustrix_status" > '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}.tmp && mv -f '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}.tmp '/home/u s/clustrix jobs/j$1 '"'"'x'"'"'/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}
fi
exit "$clustrix_status"
