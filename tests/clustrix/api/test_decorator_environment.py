"""``@cluster(environment=...)``: checked at decoration time; ignored (with a warning) locally."""

from __future__ import annotations

import pytest

from clustrix import cluster
from clustrix.errors import ClustrixWarning, ConfigError


def double(x):
    return 2 * x


def test_a_bad_environment_fails_at_decoration_naming_the_function_and_key():
    with pytest.raises(ConfigError, match=r"@cluster\(environment=...\) of double: key 'environment.pipp': "
                                          r"unknown key \(did you mean 'pip'\?\)"):
        cluster(environment={"pipp": ["x"]})(double)
    with pytest.raises(ConfigError, match="'./no-such-dir' does not exist"):
        cluster(environment={"pip": ["./no-such-dir"]})(double)


def test_a_local_backend_says_it_does_not_use_the_environment():
    remote = cluster(profile={"backend": "local", "local_mode": "threads"}, environment={"pip": ["iniconfig"]})(double)
    with pytest.warns(ClustrixWarning, match="environment is not used by the 'local' backend"):
        assert remote(21) == 42
