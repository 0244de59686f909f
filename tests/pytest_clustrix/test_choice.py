import pytest

from pytest_clustrix import choice


def test_precedence_command_line_env_ini_default():
    env = {"CLUSTRIX_BACKEND": "debug"}
    assert choice.resolve("slurm-sim", "local", env) == choice.BackendChoice("slurm-sim", "command line")
    assert choice.resolve(None, "local", env) == choice.BackendChoice("debug", "$CLUSTRIX_BACKEND")
    assert choice.resolve(None, "debug", {}) == choice.BackendChoice("debug", "ini clustrix_backend")
    assert choice.resolve(None, None, {}) == choice.BackendChoice("local", "default")


@pytest.mark.parametrize("value,kind,scheduler,profile", [
    ("local", "plain", None, None),
    ("debug", "plain", None, None),
    ("slurm-sim", "sim", "slurm", None),
    ("profile:hpc", "profile", None, "hpc"),
])
def test_kinds(value, kind, scheduler, profile):
    c = choice.parse(value, "test")
    assert (c.kind, c.scheduler, c.profile_name) == (kind, scheduler, profile)
    assert c.uses_simulator == (kind == "sim")


@pytest.mark.parametrize("bad", ["", "slurm", "slurm-simm", "lsf-sim", "profile:", "LOCAL", "lsf-docker"])
def test_bad_values_name_value_origin_and_valid_ones(bad):
    with pytest.raises(ValueError) as info:
        choice.parse(bad, "$CLUSTRIX_BACKEND")
    text = str(info.value)
    assert repr(bad) in text and "$CLUSTRIX_BACKEND" in text
    assert "slurm-sim" in text and "profile:NAME" in text


def test_valid_values_follow_installed_front_ends():
    assert "slurm" in choice.available_sim_schedulers()
    assert "slurm-sim" in choice.valid_values()
