"""A profile: everything needed to reach one backend, as a validated frozen value.

Where profiles come from (YAML files, ``configure()``, ``use_profile()``) is ``clustrix.config``'s
concern; this module only defines the value and builds it from a plain mapping, rejecting unknown
keys and bad values with the source and key named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from clustrix.config.environment import Environment, environment_from_value
from clustrix.errors import ConfigError, ConfigErrors, ResourceError, did_you_mean
from clustrix.spec import RESOURCE_KEYS, Resources, env_pairs, format_hms

BACKENDS = ("local", "debug", "ssh", "slurm", "pbs", "torque", "sge")
SCHEDULER_BACKENDS = ("slurm", "pbs", "torque", "sge")
HOST_KEY_POLICIES = ("strict", "accept-new")
LOCAL_MODES = ("processes", "threads")
DEFAULT_MAX_ARRAY_SIZE = {"slurm": 1001, "pbs": 10000, "torque": 10000, "sge": 75000}
"""Most tasks one array job may have when a profile sets no ``max_array_size``: each scheduler's
stock default (SLURM ``MaxArraySize`` 1001, i.e. indices 0..1000; PBS Pro ``max_array_size``
10000; Grid Engine ``max_aj_tasks`` 75000). Torque ships without a limit; 10000 keeps its
``qsub -t`` ranges and status listings of one array within what sites commonly allow."""


@dataclass(frozen=True)
class Profile:
    """How and where jobs run.

    ``backend`` picks the executor: ``local`` (process pool here), ``debug`` (in-process, pdb
    works), ``ssh`` (a host without a scheduler), or a scheduler reached over SSH (or on this
    machine when ``host`` is None: a login node). ``remote_dir`` holds the job directories and
    must be on a filesystem the compute nodes share. ``resources`` are defaults that decorator
    arguments override. Poll intervals start at ``poll_interval_s`` and back off to
    ``poll_max_interval_s``. ``array_chunk_size`` puts that many items in each array task (raise
    it for many short items; leave it unset for long ones: one item per task up to 500 items,
    then evenly chunked), and ``max_array_parallel`` caps running tasks (``%limit``).
    ``max_array_size`` is the most tasks the site lets one array have (SLURM ``MaxArraySize``,
    PBS ``max_array_size``, SGE ``max_aj_tasks``; None: the scheduler's stock default, see
    :data:`DEFAULT_MAX_ARRAY_SIZE`): a map with more tasks is submitted as several arrays.
    ``command_timeout_s`` bounds every scheduler command; ``max_workers`` and ``local_mode``
    apply to the ``local`` backend.
    """

    name: str = "default"
    backend: str = "local"
    host: str | None = None
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    known_hosts: str | None = None
    host_key_policy: str = "strict"
    use_ssh_config: bool = True
    remote_dir: str = "~/.clustrix/jobs"
    python: str = "python3"
    setup: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    resources: Resources = field(default_factory=Resources)
    poll_interval_s: float = 1.0
    poll_max_interval_s: float = 30.0
    command_timeout_s: float = 60.0
    max_workers: int | None = None
    local_mode: str = "processes"
    array_chunk_size: int | None = None
    max_array_parallel: int | None = None
    max_array_size: int | None = None
    environment: Environment | None = None
    """The job's interpreter and what it has installed (:mod:`clustrix.config.environment`):
    an existing ``python``, a ``conda`` environment, ``modules`` to load, or a venv clustrix builds
    on the cluster from ``pip``/``requirements``/``replicate``. None: ``python`` as it is."""
    ledger: str | None = None
    """The job ledger this profile's jobs are recorded in (None: the user's own). Simulated and
    test clusters set their own, so test runs never fill the personal ledger with dead jobs."""
    ship_local_code: bool = True
    """Ship the user's own modules a job needs (outside site-packages and the standard library)
    with it; false: only ``ship_modules`` (see :mod:`clustrix.payload.local_code`)."""
    ship_modules: tuple[str, ...] = ()
    """Top-level modules or packages of the user's to ship always, found or not."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}",
                              source=f"profile {self.name!r}", key="backend")
        if self.host_key_policy not in HOST_KEY_POLICIES:
            raise ConfigError(f"unknown host_key_policy {self.host_key_policy!r}; choose one of "
                              f"{', '.join(HOST_KEY_POLICIES)}", source=f"profile {self.name!r}", key="host_key_policy")
        if self.local_mode not in LOCAL_MODES:
            raise ConfigError(f"unknown local_mode {self.local_mode!r}; choose one of {', '.join(LOCAL_MODES)}",
                              source=f"profile {self.name!r}", key="local_mode")
        if self.backend == "ssh" and not self.host:
            raise ConfigError("backend 'ssh' needs a host", source=f"profile {self.name!r}", key="host")
        for key in ("poll_interval_s", "poll_max_interval_s", "command_timeout_s"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"must be a positive number of seconds, got {value!r}",
                                  source=f"profile {self.name!r}", key=key)
        for key in ("port", "max_workers", "array_chunk_size", "max_array_parallel", "max_array_size"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ConfigError(f"must be a positive whole number, got {value!r}",
                                  source=f"profile {self.name!r}", key=key)
        self._check_types()
        setup = (self.setup,) if isinstance(self.setup, str) else tuple(self.setup)
        object.__setattr__(self, "setup", setup)
        object.__setattr__(self, "env", env_pairs(self.env) if not isinstance(self.env, tuple) else self.env)
        self._check_environment()

    def _check_environment(self) -> None:
        where = f"profile {self.name!r}"
        env = environment_from_value(self.environment, source=where)
        object.__setattr__(self, "environment", env)
        if env is not None and env.python and self.python not in ("python3", env.python):
            raise ConfigError(f"python {self.python!r} and environment.python {env.python!r} disagree; "
                              "give the interpreter in one place (environment.python)", source=where,
                              key="python")
        if env is not None and env.conda and self.python != "python3":
            raise ConfigError(f"python {self.python!r} and environment.conda {env.conda!r} disagree: jobs run "
                              "the conda environment's python; remove python", source=where, key="python")

    def _check_types(self) -> None:
        # YAML happily yields ints, lists or None where a string belongs; say so here instead of
        # failing later inside a transport with a TypeError.
        where = f"profile {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"must be a non-empty string, got {self.name!r}", source=where, key="name")
        for key in ("host", "user", "key_file", "known_hosts", "ledger"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"must be a non-empty string, got {value!r}", source=where, key=key)
        for key in ("remote_dir", "python"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip() or "\n" in value:
                raise ConfigError(f"must be a non-empty single-line string, got {value!r}", source=where, key=key)
        if not isinstance(self.ship_local_code, bool):
            raise ConfigError(f"must be true or false, got {self.ship_local_code!r}", source=where,
                              key="ship_local_code")
        modules = (self.ship_modules,) if isinstance(self.ship_modules, str) else self.ship_modules
        if not isinstance(modules, (list, tuple)) or not all(
                isinstance(m, str) and m.strip() and all(p.isidentifier() for p in m.split(".")) for m in modules):
            raise ConfigError(f"must be a list of module names (e.g. [mylab, helpers]), got {self.ship_modules!r}",
                              source=where, key="ship_modules")
        object.__setattr__(self, "ship_modules", tuple(modules))
        if not isinstance(self.use_ssh_config, bool):
            raise ConfigError(f"must be true or false, got {self.use_ssh_config!r}", source=where, key="use_ssh_config")
        setup = self.setup
        if not isinstance(setup, str) and (
            not isinstance(setup, (list, tuple)) or not all(isinstance(line, str) for line in setup)
        ):
            raise ConfigError(f"must be a shell line or a list of shell lines, got {setup!r}", source=where, key="setup")
        if not isinstance(self.resources, Resources):
            raise ConfigError(f"must be a Resources value, got {self.resources!r}", source=where, key="resources")

    @property
    def is_remote(self) -> bool:
        return self.backend not in ("local", "debug")

    @property
    def scheduler(self) -> str | None:
        """The scheduler module name, or None for local/debug/ssh."""
        return self.backend if self.backend in SCHEDULER_BACKENDS else None

    @property
    def array_size_limit(self) -> int | None:
        """Most tasks per array job: ``max_array_size``, else the scheduler's stock default
        (None for backends without arrays of their own: local, debug, ssh)."""
        if self.max_array_size is not None:
            return self.max_array_size
        return DEFAULT_MAX_ARRAY_SIZE.get(self.backend)

    def with_resources(self, **user_values: Any) -> Profile:
        """A copy whose default resources are overridden (user forms: ``memory="8GB"``)."""
        return replace(self, resources=self.resources.merged(**user_values))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, name: str | None = None, source: str = "argument") -> Profile:
        """Build from a plain mapping (a YAML profile section, a dict, ``SimCluster.profile()``).

        Resource keys may sit at the top level or under ``resources:``. Unknown keys raise
        :class:`ConfigError` naming the source, the key and the valid keys.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"a profile must be a mapping of keys, got {type(data).__name__}", source=source)
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        resource_values: dict[str, Any] = {}
        nested = data.get("resources") or {}
        if not isinstance(nested, Mapping):
            raise ConfigError("must be a mapping of resource keys", source=source, key="resources")
        problems: list[ConfigError] = []
        valid = sorted((known - {"resources"}) | set(RESOURCE_KEYS))
        for key, value in {**{k: v for k, v in data.items() if k != "resources"}, **nested}.items():
            if key in RESOURCE_KEYS:
                resource_values[key] = value
            elif key in known:
                values[key] = value
            else:
                problems.append(ConfigError(f"unknown key{did_you_mean(key, valid)}; valid keys are: "
                                            f"{', '.join(valid)}", source=source, key=str(key)))
        for key, value in resource_values.items():  # each bad value is its own problem
            try:
                Resources.from_user(**{key: value})
            except ResourceError as exc:
                problems.append(ConfigError(str(exc), source=source, key=exc.field))
        if problems:
            raise ConfigErrors.of(problems)
        if name is not None:
            values["name"] = name
        for key in ("setup", "ship_modules"):
            if key in values and isinstance(values[key], list):
                values[key] = tuple(values[key])
        if "env" in values:
            if not isinstance(values["env"], Mapping):
                raise ConfigError("must be a mapping of NAME: value", source=source, key="env")
            values["env"] = env_pairs(values["env"])
        if "environment" in values:  # its problems name this source and each bad item at once
            values["environment"] = environment_from_value(values["environment"], source=source)
        try:
            values["resources"] = Resources.from_user(**resource_values)
            return cls(**values)
        except ResourceError as exc:
            raise ConfigError(str(exc), source=source, key=exc.field) from exc
        except TypeError as exc:
            raise ConfigError(str(exc), source=source) from exc
        except ConfigError as exc:
            # __post_init__ only knows the profile's name; name the file (or argument) instead.
            raise _resourced(exc, source) from exc

    def to_mapping(self) -> dict[str, Any]:
        """This profile as a plain mapping that :meth:`from_mapping` turns back into an equal profile.

        Resources are written in user form (``memory: 8192M``, ``time: "01:00:00"``) and flattened
        to the top level, as a profile in a YAML file would write them; ``name`` is left out
        because a file gives it as the section key.
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("name", "resources"):
                continue
            value = getattr(self, f.name)
            if f.name in ("setup", "ship_modules"):
                value = list(value)
            elif f.name == "env":
                value = dict(value)
            elif f.name == "environment":
                value = None if value is None else value.to_mapping()
            out[f.name] = value
        res = self.resources
        out.update(
            cores=res.cores,
            nodes=res.nodes,
            memory=None if res.mem_mb is None else f"{res.mem_mb}M",
            time=None if res.time_s is None else format_hms(res.time_s),
            gpus=res.gpus,
            partition=res.partition,
            queue=res.queue,
            account=res.account,
            qos=res.qos,
            extra_directives=list(res.extra_directives),
        )
        return out


def _resourced(exc: ConfigError, source: str) -> ConfigError:
    """The same complaint as ``exc`` with ``source`` as where it came from."""
    text = str(exc)
    if exc.source and exc.key:
        prefix = f"{exc.source}: key {exc.key!r}: "
    elif exc.source:
        prefix = f"{exc.source}: "
    else:
        prefix = ""
    message = text[len(prefix):] if prefix and text.startswith(prefix) else text
    return ConfigError(message, source=source, key=exc.key)
