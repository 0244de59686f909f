"""The cluster's side of a venv build: two POSIX shell scripts, run through a transport.

``PROBE`` (one round trip, every session): runs the environment's prelude (``module load``,
``conda activate``), asks the base interpreter for its implementation, version, machine and
glibc, and says whether ``<envs>/<digest>-<tag>/ready`` exists. A venv is used only when that
completion marker does, which the build writes last (atomically), so a half-built venv never is.

``BUILD`` (only when the marker is missing, after the wheels are uploaded into
``<dir>/wheels/``): takes the lock ``<dir>/lock`` — ``mkdir`` is atomic on every filesystem a
cluster shares, NFS included — so that however many submissions arrive at once, one builds and
the others wait for the marker. A lock is stale, and broken (renamed away atomically, so only
one waiter breaks it), when its owner ran on this host and is gone, or when it is older than
the build deadline plus :data:`STALE_MARGIN_S` (a client or login node that crashed elsewhere).
The build itself: ``python -m venv --without-pip`` (no ``ensurepip`` needed), then the pip
wheel that travelled with the other wheels installs them (``--no-index --find-links`` for a
wheelhouse), then the venv must import ``clustrix.runner`` and ``cloudpickle``. Every step runs
under ``timeout`` with what is left of the deadline. The log stays at ``<dir>/build.log``; each
successful build appends one line to ``<dir>/builds``. On failure the script prints the log's
tail on stderr and exits with the failing step's code.
"""

from __future__ import annotations

import shlex

from clustrix.config.environment import PRELUDE_EXIT

STALE_MARGIN_S = 120
LOG_TAIL_BYTES = 6000

EXIT_PRELUDE = PRELUDE_EXIT  # a module or conda environment failed (Environment.prelude)
EXIT_NO_PYTHON = 90
EXIT_NO_VENV = 91
EXIT_PIP = 92
EXIT_CHECK = 93
EXIT_LOCK_WAIT = 94
EXIT_TIMEOUT = 124

_INFO = ("import sys, platform; v = sys.version_info; "
         "print('%s %d.%d.%d %s %s' % (sys.implementation.name, v[0], v[1], v[2], "
         "platform.machine() or 'unknown', platform.libc_ver()[1] or '-'))")


def _prelude(lines: tuple[str, ...]) -> str:
    return "\n".join(lines)


def probe_script(prelude: tuple[str, ...]) -> str:
    """``sh -c SCRIPT clustrix-env ENVS DIGEST BASE_PYTHON`` -> ``info=...`` and ``ready=0|1``."""
    return f"""set -u
envs=$1 digest=$2 base=$3
{_prelude(prelude)}
info=$("$base" -c {shlex.quote(_INFO)}) || {{ echo "clustrix-env: the interpreter $base does not run here" >&2; exit {EXIT_NO_PYTHON}; }}
read impl ver mach libc <<EOF
$info
EOF
dir="$envs/$digest-$impl-$ver-$mach"
echo "info=$info"
if [ -f "$dir/ready" ] && [ -x "$dir/venv/bin/python" ]; then echo ready=1; else echo ready=0; fi
"""


def build_script(prelude: tuple[str, ...]) -> str:
    """``sh -c SCRIPT clustrix-env DIR BASE_PYTHON TIMEOUT_S OFFLINE PIP_WHEEL ROOT_WHEEL...``

    Prints ``built=1`` after building, ``built=0`` when another build finished first.
    """
    return f"""set -u
dir=$1 base=$2 limit=$3 offline=$4 pipwhl=$5
shift 5
lock="$dir/lock" log="$dir/build.log" ready="$dir/ready"
host=$(hostname 2>/dev/null || echo unknown)
stale=$((limit + {STALE_MARGIN_S}))
fail() {{
  code=$1; shift
  echo "clustrix-env: $*" >> "$log"
  echo "clustrix-env: $*" >&2
  echo "--- tail of $log ---" >&2
  tail -c {LOG_TAIL_BYTES} "$log" >&2
  exit "$code"
}}
if [ -f "$ready" ]; then echo built=0; exit 0; fi
waited=$(date +%s)
while ! mkdir "$lock" 2>/dev/null; do
  if [ -f "$ready" ]; then echo built=0; exit 0; fi
  now=$(date +%s)
  owner=$(cat "$lock/owner" 2>/dev/null || true)
  ohost=${{owner%% *}} opid=${{owner#* }}
  born=$(stat -c %Y "$lock" 2>/dev/null || echo "$now")
  if [ $((now - born)) -gt "$stale" ] || {{ [ -n "$owner" ] && [ "$ohost" = "$host" ] && ! kill -0 "$opid" 2>/dev/null; }}; then
    if mv "$lock" "$lock.stale.$$" 2>/dev/null; then
      rm -rf "$lock.stale.$$"
      echo "clustrix-env: broke the stale lock of ${{owner:-an unknown owner}} ($((now - born)) s old)" >> "$log"
    fi
    continue
  fi
  if [ $((now - waited)) -ge "$limit" ]; then
    echo "clustrix-env: waited $limit s for the build by ${{owner:-another process}} to finish" >&2
    tail -c {LOG_TAIL_BYTES} "$log" >&2 2>/dev/null
    exit {EXIT_LOCK_WAIT}
  fi
  sleep 1
done
echo "$host $$" > "$lock/owner"
trap 'rm -rf "$lock" "$dir/pip"' EXIT
trap 'exit 143' HUP INT TERM
if [ -f "$ready" ]; then echo built=0; exit 0; fi
started=$(date +%s)
left() {{ l=$((limit - ($(date +%s) - started))); [ "$l" -gt 0 ] && echo "$l" || echo 1; }}
step() {{
  what=$1; code=$2; shift 2
  "$@" >> "$log" 2>&1
  rc=$?
  [ "$rc" -eq 124 ] && fail {EXIT_TIMEOUT} "$what did not finish within the build deadline of $limit s"
  [ "$rc" -ne 0 ] && fail "$code" "$what failed (exit $rc)"
  return 0
}}
echo "=== clustrix-env: build on $host (pid $$) at $(date)" >> "$log"
{_prelude(prelude)}
rm -rf "$dir/venv" "$dir/pip"
"$base" -c 'import venv' >> "$log" 2>&1 || fail {EXIT_NO_VENV} "$base has no venv module; install it (Debian/Ubuntu: apt-get install python3-venv) or set environment.python to an interpreter that has one"
step "creating the venv ($base -m venv)" {EXIT_NO_VENV} timeout "$(left)" "$base" -m venv --without-pip "$dir/venv"
step "unpacking pip" {EXIT_PIP} "$base" -m zipfile -e "$dir/wheels/$pipwhl" "$dir/pip"
# The root wheels (the arguments left) as paths, kept as separate words whatever the paths hold.
n=$#
while [ "$n" -gt 0 ]; do set -- "$@" "$dir/wheels/$1"; shift; n=$((n - 1)); done
[ "$offline" = 1 ] && set -- --no-index "$@"
step "pip install" {EXIT_PIP} env PYTHONPATH="$dir/pip" timeout "$(left)" "$dir/venv/bin/python" -m pip install --disable-pip-version-check --no-input --no-cache-dir --find-links "$dir/wheels" -r "$dir/wheels/requirements.txt" "$@"
step "checking the venv imports clustrix.runner and cloudpickle" {EXIT_CHECK} "$dir/venv/bin/python" -c "import clustrix.runner, cloudpickle"
date +%s > "$ready.tmp" && mv -f "$ready.tmp" "$ready" || fail {EXIT_CHECK} "could not write $ready"
echo "$(date +%s) $host $$" >> "$dir/builds"
echo "=== clustrix-env: ready at $(date)" >> "$log"
echo built=1
"""


def parse_lines(stdout: str) -> dict[str, str]:
    """``key=value`` lines of a script's output (other lines are ignored)."""
    out = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isidentifier():
            out[key] = value.strip()
    return out
