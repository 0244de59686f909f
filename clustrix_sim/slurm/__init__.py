"""SLURM front end of the simulator: sbatch, squeue, sacct, scancel, scontrol, sinfo, srun."""
