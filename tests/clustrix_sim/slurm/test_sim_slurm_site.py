"""SlurmSite (one site for the simulator and real Slurm's slurm.conf) and Slurm versions."""

from __future__ import annotations

import dataclasses

import pytest

from clustrix_sim.cluster import SimCluster
from clustrix_sim.slurm.site import SlurmPartition, SlurmSite
from clustrix_sim.slurm.versions import normalize_version


def conf_lines(site: SlurmSite, host: str = "node1") -> set[str]:
    return set(site.render_slurm_conf(host).splitlines())


def test_rendered_slurm_conf_carries_every_knob() -> None:
    site = SlurmSite(slurm_version="24.11", cluster_name="alpha", nodes=1, cpus_per_node=8, real_memory_mb=32000,
                     partitions=(SlurmPartition("short", default=True, max_time_min=60, default_time_min=10),
                                 SlurmPartition("long", max_nodes=1)),
                     prolog_flags="Contain", def_mem_per_cpu_mb=4000, min_job_age_s=120, max_array_size=50,
                     first_job_id=500, kill_wait_s=5)
    lines = conf_lines(site)
    assert {"ClusterName=alpha", "SlurmctldHost=node1", "SelectTypeParameters=CR_Core_Memory", "PrologFlags=Contain",
            "DefMemPerCPU=4000", "MinJobAge=120", "MaxArraySize=50", "FirstJobId=500", "KillWait=5",
            "AccountingStorageType=accounting_storage/slurmdbd",
            "NodeName=node1 CPUs=8 RealMemory=32000 State=UNKNOWN",
            "PartitionName=short Nodes=node1 Default=YES MaxTime=60 DefaultTime=10 State=UP",
            "PartitionName=long Nodes=node1 Default=NO MaxTime=INFINITE MaxNodes=1 State=UP"} <= lines
    assert "AccountingStorageType=accounting_storage/none" in conf_lines(dataclasses.replace(site, accounting=False))


def test_the_simulator_gets_the_same_site() -> None:
    site = SlurmSite(nodes=1, cpus_per_node=2, real_memory_mb=16000, first_job_id=100000, prolog_flags="Contain",
                     partitions=(SlurmPartition("short", default=True, max_time_min=60),))
    kwargs = site.sim_kwargs()
    assert kwargs["mem_default"] == "node"  # CR_Core_Memory without DefMemPerCPU: the whole node
    assert kwargs["partitions"] == [{"name": "short", "nodes": ["c1"], "default": True, "max_time_s": 3600,
                                     "default_time_s": None, "max_nodes": None}]
    assert (kwargs["first_job_id"], kwargs["prolog_flags"], kwargs["slurm_version"]) == (100000, "Contain", "22.05")
    assert dataclasses.replace(site, def_mem_per_cpu_mb=8000).sim_kwargs()["mem_default"] == "share"


@pytest.mark.parametrize("change,words", [
    ({"slurm_version": "23.02"}, "23.02"),
    ({"def_mem_per_cpu_mb": 1000}, "def_mem_per_cpu_mb=1000"),
    ({"def_mem_per_cpu_mb": 1000, "def_mem_per_node_mb": 1000}, "not both"),
    ({"select_type_parameters": "CR_Core"}, "does not track memory"),
    ({"partitions": (SlurmPartition("a"), SlurmPartition("b"))}, "exactly one default"),
    ({"nodes": 0}, "nodes must be a positive integer"),
    ({"accounting_lag_s": -1}, "accounting_lag_s"),
])
def test_a_site_the_simulator_cannot_run_is_refused_by_name(change: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        SlurmSite(**change)


def test_versions_normalize_and_unknown_ones_name_the_choices() -> None:
    assert normalize_version("slurm 24.11.5") == normalize_version("24.11") == "24.11"
    with pytest.raises(ValueError, match="22.05, 24.11"):
        normalize_version("21.08")
    with pytest.raises(ValueError, match="21.08"):
        SimCluster(ssh=False, slurm_version="21.08")


def test_tools_answer_as_the_release_the_site_names(tmp_path) -> None:  # noqa: ANN001
    site = SlurmSite(slurm_version="24.11", nodes=1, cpus_per_node=2, real_memory_mb=4000, accounting_lag_s=600.0)
    with SimCluster(ssh=False, site=site) as sim:
        assert [sim.run([tool, "--version"]).stdout for tool in ("sbatch", "squeue", "sacct", "scontrol")] == \
            ["slurm 24.11.5\n"] * 4
        job = sim.run(["sbatch", "--parsable", "-c", "2", "--wrap", "true"], cwd=str(tmp_path)).stdout.strip()
        shown = sim.run(["scontrol", "show", "job", job]).stdout
        assert "ReqTRES=cpu=2" in shown and "TresPerTask=cpu=2" in shown and "Power=" not in shown
        refused = sim.run(["sbatch", "-d", "afterok:999999", "--wrap", "true"], cwd=str(tmp_path))
        assert (refused.returncode, refused.stderr) == (1, "sbatch: error: Batch job submission failed: "
                                                           "Job dependency problem\n")
        assert sim.faults.list()["accounting_lag_s"] == 600.0  # the site's lag is the lag_accounting fault
        sim.wait_job(int(job))  # the controller knows it finished; accounting is 10 minutes behind
        assert "COMPLETED" not in sim.run(["sacct", "-X", "-n", "-j", job, "-o", "State"]).stdout
    with SimCluster(ssh=False, nodes=1) as sim:
        assert sim.run(["sinfo", "--version"]).stdout == "slurm 22.05.8\n"
        assert sim.run(["sbatch", "-d", "afterok:999999", "--wrap", "true"], cwd=str(tmp_path)).returncode == 0


@pytest.mark.parametrize("argv,refusal", [
    (["squeue", "--only-job-state", "-h"], "squeue: unrecognized option '--only-job-state'"),
    (["scancel", "-c", "999999"], "scancel: invalid option -- 'c'"),
    (["sbatch", "--tres-per-task=cpu=1", "--wrap", "true"], "sbatch: unrecognized option '--tres-per-task=cpu=1'"),
    (["scontrol", "--json", "show", "job"], "scontrol: unrecognized option '--json'"),
])
def test_options_22_05_lacks_are_unknown_there_and_known_in_24_11(argv: list[str], refusal: str,
                                                                   tmp_path) -> None:  # noqa: ANN001
    with SimCluster(ssh=False, nodes=1) as sim:
        old = sim.run(argv, cwd=str(tmp_path))
    assert old.returncode != 0 and old.stderr.splitlines()[0] == refusal
    with SimCluster(ssh=False, nodes=1, slurm_version="24.11") as sim:
        new = sim.run(argv, cwd=str(tmp_path))
        assert "unrecognized option" not in new.stderr and "invalid option" not in new.stderr
