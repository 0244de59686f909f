"""The code-shipping settings: profile keys and decorator arguments, validated where written."""

from __future__ import annotations

import pytest

from clustrix import cluster
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError


def test_profile_keys_round_trip_and_default_to_shipping():
    default = Profile.from_mapping({"backend": "slurm"})
    assert default.ship_local_code is True and default.ship_modules == ()
    p = Profile.from_mapping({"backend": "slurm", "ship_modules": ["mylab", "helpers.sub"], "ship_local_code": False})
    assert p.ship_modules == ("mylab", "helpers.sub") and p.ship_local_code is False
    assert Profile.from_mapping(p.to_mapping(), name=p.name) == p


@pytest.mark.parametrize(("key", "value", "message"), [
    ("ship_local_code", "no", "must be true or false, got 'no'"),
    ("ship_modules", ["my-lab"], r"must be a list of module names \(e.g. \[mylab, helpers\]\), got \('my-lab',\)"),
    ("ship_modules", [3], "must be a list of module names"),
])
def test_bad_profile_values_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        Profile.from_mapping({"backend": "slurm", key: value})
    assert info.value.key == key


def test_decorator_arguments_make_a_profile_variant():
    base = Profile(name="hpc", backend="slurm", host="login", ship_modules=("mylab",))

    def f():
        return 1

    plain = cluster(profile=base)(f)
    assert plain._with_ship_options(base) is base  # nothing set: the shared profile itself
    variant = cluster(profile=base, ship_modules=["plugins", "mylab"], ship_local_code=False)(f)
    shipped = variant._with_ship_options(base)
    assert shipped.ship_modules == ("mylab", "plugins") and shipped.ship_local_code is False
    with pytest.raises(ConfigError, match="ship_modules must be a list of module names"):
        cluster(ship_modules=["not a name"])(f)
    with pytest.raises(ConfigError, match="ship_local_code must be True or False, got 'yes'"):
        cluster(ship_local_code="yes")(f)
    with pytest.raises(TypeError, match="did you mean 'ship_modules'"):
        cluster(ship_module=["x"])(f)
