# Grid Engine's environment for login shells (jobs and interactive use).
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
