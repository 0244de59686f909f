"""The fidelity suite's normalization and comparison (pure): what it rewrites and what it keeps."""

from __future__ import annotations

from fidelity_normalize import Output, Site, differences, normalize, normalize_all

SITE = Site(job_ids=(100007, 100005, 100006), hosts=("vm",), users=("root",), work_dir="/scratch/fidelity-x1")


def test_job_ids_become_their_rank_in_submission_order_keeping_the_width() -> None:
    text = "Submitted batch job 100005\n100006_[3-4%2] 100007.batch slurm-100005.out JobId=100006\n"
    assert normalize(text, SITE) == ("Submitted batch job J00001\nJ00002_[3-4%2] J00003.batch "
                                     "slurm-J00001.out JobId=J00002\n")


def test_other_numbers_are_kept() -> None:
    assert normalize("1000050 999999 100004 NumCPUs=2", SITE) == "1000050 999999 100004 NumCPUs=2"


def test_dates_and_long_durations_keep_their_shape() -> None:
    text = "SubmitTime=2026-12-03T15:34:07 RunTime=00:00:03 TimeLimit=1-00:00:00 ExitCode=0:15"
    assert normalize(text, SITE) == ("SubmitTime=NNNN-NN-NNTNN:NN:NN RunTime=NN:NN:NN "
                                     "TimeLimit=N-NN:NN:NN ExitCode=0:15")


def test_short_durations_only_where_asked() -> None:
    assert normalize(" R       0:03      1 vm", SITE, short_durations=True) == " R       N:NN      1 HH"
    assert normalize("CANCELLED     0:15 ", SITE) == "CANCELLED     0:15 "


def test_squeue_outputs_get_short_durations_sacct_outputs_do_not() -> None:
    outs = normalize_all([Output("squeue", 0, "0:15\n", ""), Output("sacct", 0, "0:15\n", "")], SITE)
    assert [o.stdout for o in outs] == ["N:NN\n", "0:15\n"]


def test_hosts_users_paths_priorities_and_session_ids() -> None:
    text = ("UserId=root(0) Priority=4294901754 AllocNode:Sid=vm:851\n"
            "   NodeList=vm WorkDir=/scratch/fidelity-x1 StdOut=/scratch/fidelity-x1/slurm-100005.out\n")
    assert normalize(text, SITE) == ("UserId=UUUU(0) Priority=PPPPPPPPPP AllocNode:Sid=SID\n"
                                     "   NodeList=HH WorkDir=/WORK StdOut=/WORK/slurm-J00001.out\n")


def test_priority_zero_is_kept() -> None:
    assert normalize("Priority=0 Nice=0", SITE) == "Priority=0 Nice=0"


def test_differences_name_the_command_and_field() -> None:
    real = [Output("sbatch x", 255, "", "e\n"), Output("squeue", 0, "a\n", "")]
    sim = [Output("sbatch x", 1, "", "e\n"), Output("squeue", 0, "a\n", "")]
    found = differences(real, sim)
    assert len(found) == 1 and found[0].startswith("sbatch x: rc\n--- real\n255\n+++ sim\n1")
    assert differences(real, real) == []
    assert differences(real, sim[:1])[0].startswith("command lists differ")
