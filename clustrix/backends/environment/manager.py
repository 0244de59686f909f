"""Making a profile's ``environment`` ready on the cluster, once per backend, before any submission.

:class:`EnvironmentManager` answers one question for the remote backend — which interpreter,
after which setup lines, do this profile's jobs run — and builds the venv on the cluster when the
answer is one (:mod:`clustrix.backends.environment.remote`). The first submission asks; the
others wait for the same answer (one build per backend however many threads submit; the
cluster-side lock covers other processes). A build that fails raises
:class:`~clustrix.errors.EnvironmentBuildError` before any job is submitted, naming the item pip
complained about and carrying the build log's tail; that failure is remembered, so the
submissions that follow fail the same way at once instead of rebuilding. A transport error is
not remembered: the next submission tries again.

Costs: a session that finds the venv ready pays one round trip (the probe); a build pays the
probe, a ``makedirs``, a ``listdir``, one ``put_files`` of the missing wheels and the build command.
"""

from __future__ import annotations

import logging
import posixpath
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from clustrix.backends.environment import remote as rs
from clustrix.backends.environment.plan import RemotePython, plan_inputs, resolve
from clustrix.config.profile import Profile
from clustrix.errors import EnvironmentBuildError
from clustrix.paths import data_dir
from clustrix.spec import JobSpec
from clustrix.transports.base import Transport

log = logging.getLogger(__name__)

_WHEEL_NAME = re.compile(r"^[A-Za-z0-9_.+-]+\.whl$")


@dataclass(frozen=True)
class JobInterpreter:
    """What a job runs: ``python`` after the ``setup`` lines; ``env_dir`` for a built venv.

    ``built_s`` is how long making it ready took in this process (probe and any build), and
    ``built`` whether this process built the venv (False: it was there, or another one built it).
    """

    python: str
    setup: tuple[str, ...] = ()
    env_dir: str | None = None
    built: bool = False
    ready_s: float = 0.0

    def apply(self, spec: JobSpec) -> JobSpec:
        """``spec`` running this interpreter, with the environment's lines before its own setup."""
        if spec.python == self.python and not self.setup:
            return spec
        return replace(spec, python=self.python, setup=(*self.setup, *spec.setup))


def default_cache_dir() -> str:
    """Where wheels made on this machine are kept between sessions."""
    path = data_dir() / "wheelhouse"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(path)


class EnvironmentManager:
    """The job interpreter of one profile, made ready once (see the module docstring)."""

    def __init__(self, transport: Transport, profile: Profile, remote_dir: Callable[[], str],
                 *, cache_dir: str | None = None):
        self.transport = transport
        self.profile = profile
        self._remote_dir = remote_dir
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._ready: JobInterpreter | None = None
        self._failure: EnvironmentBuildError | None = None

    def apply(self, spec: JobSpec) -> JobSpec:
        """``spec`` with this profile's job interpreter (building the venv first if needed)."""
        if self.profile.environment is None:
            return spec
        return self.interpreter().apply(spec)

    def interpreter(self) -> JobInterpreter:
        """The job interpreter; builds the venv on the first call. Thread-safe."""
        with self._lock:
            if self._ready is not None:
                return self._ready
            if self._failure is not None:
                raise self._failure
            try:
                self._ready = self._prepare()
            except EnvironmentBuildError as exc:
                self._failure = exc
                raise
            return self._ready

    # -- the work ------------------------------------------------------------------------------

    def _prepare(self) -> JobInterpreter:
        env = self.profile.environment
        if env is None:
            return JobInterpreter(self.profile.python)
        prelude = env.prelude()
        base = env.base_python(self.profile.python)
        if not env.builds_venv:
            return JobInterpreter(base, prelude)
        began = time.perf_counter()
        cache = self._cache_dir or default_cache_dir()
        inputs = plan_inputs(env, base_python=base, prelude=prelude, cache_dir=cache)
        envs = posixpath.join(self._remote_dir(), "envs")
        target, ready = self._probe(prelude, envs, inputs.digest, base)
        env_dir = posixpath.join(envs, f"{inputs.digest}-{target.tag}")
        built = False
        if not ready:
            wheels = resolve(inputs, target, cache)
            self._upload(env_dir, wheels, inputs.requirements)
            built = self._build(prelude, env_dir, base, env.build_timeout_s, env.offline,
                                inputs.pip.filename, [w.filename for w in inputs.roots])
        python = posixpath.join(env_dir, "venv", "bin", "python")
        took = time.perf_counter() - began
        log.info("environment %s %s in %.2f s", env_dir, "built" if built else "ready", took)
        return JobInterpreter(python, prelude, env_dir, built, took)

    def _shell(self, script: str, prelude: tuple[str, ...], args: list[str]) -> list[str]:
        # module/conda need the login shell's functions; a plain sh is enough otherwise.
        return ["bash", "-lc", script, "clustrix-env", *args] if prelude else ["sh", "-c", script, "clustrix-env", *args]

    def _probe(self, prelude: tuple[str, ...], envs: str, digest: str, base: str) -> tuple[RemotePython, bool]:
        done = self.transport.run(self._shell(rs.probe_script(prelude), prelude, [envs, digest, base]),
                                  timeout_s=self.profile.command_timeout_s, retry_safe=True)
        fields = rs.parse_lines(done.stdout)
        parts = fields.get("info", "").split()
        if done.returncode == rs.EXIT_PRELUDE:
            raise EnvironmentBuildError(
                f"the environment's setup failed on {self._where()}: {done.stderr.strip()}; check "
                f"environment.modules / environment.conda (ran: {' ; '.join(prelude)})",
                item=self.profile.environment.conda or " ".join(self.profile.environment.modules) or None,
                log_tail=done.stderr, host=self.transport.host)
        if done.returncode != 0 or len(parts) != 4:
            raise EnvironmentBuildError(
                f"the environment's interpreter {base!r} does not run on {self._where()} "
                f"(exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}; fix environment.python "
                "(or its modules/conda) so that it names a Python 3 there", item=base,
                log_tail=done.stderr, host=self.transport.host)
        impl, version, machine, libc = parts
        return RemotePython(impl, version, machine, "" if libc == "-" else libc), fields.get("ready") == "1"

    def _upload(self, env_dir: str, wheels: tuple, requirements: tuple[str, ...]) -> None:
        wheel_dir = posixpath.join(env_dir, "wheels")
        self.transport.makedirs(wheel_dir, mode=0o700)
        present = set(self.transport.listdir(wheel_dir) or [])
        files: dict[str, bytes] = {}
        for wheel in wheels:
            if not _WHEEL_NAME.match(wheel.filename):
                raise EnvironmentBuildError(f"wheel file name {wheel.filename!r} is not a plain wheel name",
                                            item=wheel.filename)
            if wheel.filename not in present:
                files[posixpath.join(wheel_dir, wheel.filename)] = Path(wheel.path).read_bytes()
        files[posixpath.join(wheel_dir, "requirements.txt")] = "".join(f"{r}\n" for r in requirements).encode()
        self.transport.put_files(files, mode=0o600)

    def _build(self, prelude: tuple[str, ...], env_dir: str, base: str, timeout_s: float, offline: bool,
               pip_wheel: str, roots: list[str]) -> bool:
        limit = max(1, int(timeout_s))
        argv = self._shell(rs.build_script(prelude), prelude,
                           [env_dir, base, str(limit), "1" if offline else "0", pip_wheel, *roots])
        # waiting for another builder, then building: each bounded by the deadline on the cluster
        done = self.transport.run(argv, timeout_s=2 * limit + 60)
        if done.returncode == 0:
            return rs.parse_lines(done.stdout).get("built") == "1"
        raise self._build_error(env_dir, done.returncode, done.stderr)

    def _build_error(self, env_dir: str, code: int, stderr: str) -> EnvironmentBuildError:
        log_path = posixpath.join(env_dir, "build.log")
        errors = [line[len("ERROR:"):].strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
        summary = next((line for line in stderr.splitlines() if line.startswith("clustrix-env:")), f"exit {code}")
        summary = summary[len("clustrix-env:"):].strip()
        if code == rs.EXIT_TIMEOUT:
            hint = "Raise environment.build_timeout_s, or use wheelhouse: true so nothing is compiled there"
        elif code == rs.EXIT_LOCK_WAIT:
            hint = f"Another build holds {env_dir}/lock; it is broken automatically once stale"
        else:
            hint = "Fix the item pip names (or reach an index: wheelhouse: true), then submit again"
        item = _named_item(errors)
        pip_said = f"; pip: {' | '.join(errors)}" if errors else ""
        return EnvironmentBuildError(
            f"building the job environment on {self._where()} failed: {summary}{pip_said}. {hint}. "
            f"Build log {log_path} ends with:\n{stderr.strip()}",
            item=item, log_tail=stderr, log_path=log_path, host=self.transport.host)

    def _where(self) -> str:
        return self.transport.host or "this machine"


def _named_item(errors: list[str]) -> str | None:
    """The requirement pip's error lines name, when they name one."""
    patterns = (r"satisfies the requirement (\S+)", r"distribution found for (\S+)",
                r"Package '([^']+)' requires", r"Invalid requirement: '([^']+)'")
    for line in errors:
        for pattern in patterns:
            match = re.search(pattern, line)
            if match:
                return match.group(1)
    return None


def prepare_environment(transport: Transport, profile: Profile, remote_dir: str,
                        *, cache_dir: str | None = None) -> JobInterpreter:
    """Make ``profile``'s environment ready through ``transport`` and return its interpreter.

    For tools outside a backend (a preflight check, ``clustrix doctor``): ``.python`` is the
    absolute path jobs run, ``.setup`` the lines they run first.
    """
    absolute = transport.expand_path(remote_dir)
    return EnvironmentManager(transport, profile, lambda: absolute, cache_dir=cache_dir).interpreter()
