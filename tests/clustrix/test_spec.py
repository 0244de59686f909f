from datetime import timedelta

import pytest

from clustrix.errors import ResourceError
from clustrix.spec import ArraySpec, JobPaths, JobSpec, Resources, parse_memory_mb, parse_time_s


@pytest.mark.parametrize(
    "text,mb",
    [("8GB", 8192), ("8G", 8192), ("512M", 512), ("512MB", 512), ("1.5GiB", 1536), ("2T", 2097152),
     ("1024K", 1), ("100k", 1), (2048, 2048), ("  4 gb ", 4096)],
)
def test_memory_forms(text, mb):
    assert parse_memory_mb(text) == mb


@pytest.mark.parametrize("bad", ["8 XB", "", "-1G", "0", "G8", True, None, "1.2.3G"])
def test_bad_memory_names_value_and_forms(bad):
    with pytest.raises(ResourceError) as info:
        parse_memory_mb(bad)
    assert repr(bad) in str(info.value)
    assert "8GB" in str(info.value)


@pytest.mark.parametrize(
    "text,seconds",
    [("01:00:00", 3600), ("1-12:00:00", 129600), ("90", 5400), (90, 5400), ("1:30", 90),
     ("2-3", 2 * 86400 + 3 * 3600), ("2-3:04", 2 * 86400 + 3 * 3600 + 240), ("2h", 7200),
     ("30m", 1800), ("45s", 45), ("1d", 86400), (timedelta(hours=2), 7200), ("100:00:00", 360000)],
)
def test_time_forms(text, seconds):
    assert parse_time_s(text) == seconds


@pytest.mark.parametrize("bad", ["1:2:3:4", "abc", "1-", "0", "00:00:00", "1:75", "1:70:00", "-5"])
def test_bad_time_is_rejected_with_forms(bad):
    with pytest.raises(ResourceError) as info:
        parse_time_s(bad)
    assert "HH:MM:SS" in str(info.value)


def test_resources_from_user_and_merge():
    r = Resources.from_user(cores=4, memory="8GB", time="01:00:00", partition="gpu", gpus=1)
    assert (r.cores, r.mem_mb, r.time_s, r.gpus, r.partition) == (4, 8192, 3600, 1, "gpu")
    r2 = r.merged(cores=8, memory=None)
    assert (r2.cores, r2.mem_mb, r2.time_s) == (8, 8192, 3600)
    with pytest.raises(ResourceError, match="memroy"):
        r.merged(memroy="1G")


@pytest.mark.parametrize("kw", [{"cores": 0}, {"cores": "x"}, {"nodes": -1}, {"gpus": 1.5}, {"partition": "a\nb"}])
def test_bad_resources(kw):
    with pytest.raises(ResourceError):
        Resources(**kw)


def test_array_range_and_paths():
    assert ArraySpec(10, 4).slurm_range() == "0-9%4"
    assert ArraySpec(1).slurm_range() == "0-0"
    p = JobPaths("/scratch/j 1", "/scratch/.key")
    assert p.result(3) == "/scratch/j 1/result.3.pkl"
    assert p.sentinel() == "/scratch/j 1/exit_code"
    with pytest.raises(ResourceError):
        JobPaths("relative/dir", "/k")


def test_jobspec_validates_env_names():
    spec = JobSpec("job", env={"A": "1 2", "B_2": "$x"})
    assert dict(spec.env) == {"A": "1 2", "B_2": "$x"}
    with pytest.raises(ResourceError, match="1BAD"):
        JobSpec("job", env={"1BAD": "x"})
    with pytest.raises(ResourceError):
        JobSpec("bad\nname")
