"""The environment and output paths of a starting batch job."""

from __future__ import annotations

from simslurm_records import record, request

from clustrix_sim.slurm.jobenv import array_step, job_env, output_paths, repeat_counts


def test_plain_job_env() -> None:
    rec = record(102, req=request(name="train", mem_mb=2048), node_list=["c1"], alloc_cpus=1)
    env = job_env(rec, "sim")
    expected = {
        "SLURM_JOB_ID": "102",
        "SLURM_JOBID": "102",
        "SLURM_JOB_NAME": "train",
        "SLURM_JOB_NODELIST": "c1",
        "SLURM_NODELIST": "c1",
        "SLURM_JOB_NUM_NODES": "1",
        "SLURM_NNODES": "1",
        "SLURM_NTASKS": "1",
        "SLURM_CPUS_PER_TASK": "1",
        "SLURM_TASKS_PER_NODE": "1",
        "SLURM_JOB_CPUS_PER_NODE": "1",
        "SLURM_SUBMIT_DIR": "/data",
        "SLURM_SUBMIT_HOST": "login1",
        "SLURM_JOB_PARTITION": "normal",
        "SLURM_CLUSTER_NAME": "sim",
        "SLURMD_NODENAME": "c1",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_JOB_USER": "alice",
        "SLURM_JOB_ACCOUNT": "root",
        "SLURM_MEM_PER_NODE": "2048",
    }
    for key, value in expected.items():
        assert env[key] == value, key
    for absent in ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT", "SLURM_GPUS",
                   "CUDA_VISIBLE_DEVICES"):
        assert absent not in env


def test_multi_node_counts() -> None:
    req = request(nodes=3, ntasks=7, cpus_per_task=2)
    rec = record(5, req=req, node_list=["c3", "c1", "c2"], alloc_cpus=14)
    env = job_env(rec, "sim")
    assert env["SLURM_JOB_NODELIST"] == "c[1-3]"
    assert env["SLURM_TASKS_PER_NODE"] == "3,2(x2)"
    assert env["SLURM_JOB_CPUS_PER_NODE"] == "5(x2),4"
    assert env["SLURMD_NODENAME"] == "c3"


def test_array_task_env_and_extras() -> None:
    req = request(array_indices=[0, 4, 8, 12], gpus=2, submit_host="login7",
                  flavor_options={"submit_dir": "/home/alice"})
    rec = record(131, req=req, array_job_id=128, array_task_id=8, restart_count=2)
    env = job_env(rec, "sim")
    assert env["SLURM_ARRAY_JOB_ID"] == "128"
    assert env["SLURM_ARRAY_TASK_ID"] == "8"
    assert env["SLURM_ARRAY_TASK_COUNT"] == "4"
    assert env["SLURM_ARRAY_TASK_MIN"] == "0"
    assert env["SLURM_ARRAY_TASK_MAX"] == "12"
    assert env["SLURM_ARRAY_TASK_STEP"] == "4"
    assert env["SLURM_RESTART_COUNT"] == "2"
    assert env["SLURM_GPUS"] == "2"
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert env["SLURM_SUBMIT_DIR"] == "/home/alice"
    assert env["SLURM_SUBMIT_HOST"] == "login7"


def test_helpers() -> None:
    assert repeat_counts([2, 2, 2, 1]) == "2(x3),1"
    assert repeat_counts([1]) == "1"
    assert array_step([0, 1, 5]) == 1
    assert array_step([3]) == 1
    assert array_step([10, 0, 5]) == 5


def test_output_paths_defaults() -> None:
    assert output_paths(record(102)) == ("/data/slurm-102.out", "/data/slurm-102.out")
    task = record(131, array_job_id=128, array_task_id=3,
                  req=request(array_indices=[0, 1, 2, 3]))
    assert output_paths(task) == ("/data/slurm-128_3.out", "/data/slurm-128_3.out")


def test_output_paths_patterns() -> None:
    req = request(name="submitit", work_dir="/w", stdout_pattern="logs/%j_0_log.out",
                  stderr_pattern="/abs/%x-%u-%N.err")
    assert output_paths(record(7, req=req, node_list=["c4"])) == (
        "/w/logs/7_0_log.out",
        "/abs/submitit-alice-c4.err",
    )
    only_err = request(stderr_pattern="/dev/null")
    assert output_paths(record(8, req=only_err)) == ("/data/slurm-8.out", "/dev/null")
