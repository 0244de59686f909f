#!/bin/bash
#SBATCH --job-name="train "'"'"big"'"'" model's #1 $(whoami) 100% λ"
#SBATCH --nodes=2
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=16384M
#SBATCH --time=2-03:04:05
#SBATCH --gres=gpu:4
#SBATCH --partition="gpu a100"
#SBATCH --account="proj;rm -rf /"
#SBATCH --qos="het""job`id`"
#SBATCH --array=0-9%3
#SBATCH --output="/scratch/alice/clustrix/100%% sure/job 7/stdout.%a.log"
#SBATCH --error="/scratch/alice/clustrix/100%% sure/job 7/stderr.%a.log"
#SBATCH --constraint=a100
#SBATCH --exclusive

# --- clustrix job body ---
cd '/scratch/alice/clustrix/100% sure/job 7' || exit 97
export OMP_NUM_THREADS=8
export WEIRD='a'"'"'b"c $HOME'
# setup lines from the profile / decorator (run verbatim)
module load python/3.11
CLUSTRIX_TASK="${SLURM_ARRAY_TASK_ID:-}"
case "$CLUSTRIX_TASK" in ""|*[!0-9]*) CLUSTRIX_TASK="" ;; esac
'/opt/py 3/bin/python' -c 'import sys; from clustrix.payload.runner import main; sys.exit(main())' '/scratch/alice/clustrix/100% sure/job 7' --task "$CLUSTRIX_TASK" --key-file '/home/alice/.clustrix/k ey'
clustrix_status=$?
if [ "$clustrix_status" != 0 ] || [ ! -s '/scratch/alice/clustrix/100% sure/job 7/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK} ]; then
  printf "%s\n" "$clustrix_status" > '/scratch/alice/clustrix/100% sure/job 7/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}.tmp && mv -f '/scratch/alice/clustrix/100% sure/job 7/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}.tmp '/scratch/alice/clustrix/100% sure/job 7/exit_code'${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}
fi
exit "$clustrix_status"
