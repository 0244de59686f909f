"""A faithful ``getopt_long`` (glibc) for the simulated SLURM tools.

What real clients rely on, and what this reproduces:

- long options abbreviated to any unique prefix (``--job`` for ``--jobs``); an exact name always
  wins; several candidates that mean the same option are not ambiguous (glibc rule);
- ``--opt=val`` and ``--opt val`` for required arguments; optional arguments only as ``--opt=val``
  or attached ``-jVAL``;
- short options clustered (``-hv``) and with attached values (``-j123``);
- argument permutation (options after positionals, as scancel/squeue/sacct allow), or stopping at
  the first positional (sbatch's ``+`` mode, so script arguments are not parsed);
- ``--`` ends the options;
- glibc's exact error texts (``sbatch: unrecognized option '--foo'``).
"""

from __future__ import annotations

__all__ = ["NO_ARG", "OPTIONAL", "REQUIRED", "GetoptError", "Opt", "getopt_long"]

NO_ARG = 0
REQUIRED = 1
OPTIONAL = 2


class Opt:
    """One option: ``key`` is what the parser reports; ``short`` a single letter or "";
    ``longs`` the long spellings (aliases); ``arg`` NO_ARG / REQUIRED / OPTIONAL.

    A plain slotted class rather than a dataclass: importing ``dataclasses`` costs every tool
    invocation ~20 ms of startup, and sbatch latency is measured.
    """

    __slots__ = ("arg", "key", "longs", "short")

    def __init__(self, key: str, short: str = "", longs: tuple[str, ...] = (),
                 arg: int = NO_ARG) -> None:
        self.key = key
        self.short = short
        self.longs = tuple(longs)
        self.arg = arg

    def __repr__(self) -> str:
        return f"Opt({self.key!r}, {self.short!r}, {self.longs!r}, {self.arg})"


class GetoptError(Exception):
    """A command-line error; ``str(exc)`` is the exact glibc message line (no newline)."""


def _match_long(name: str, opts: list[Opt], prog: str, given: str) -> tuple[Opt, str]:
    exact = [(o, n) for o in opts for n in o.longs if n == name]
    if exact:
        return exact[0]
    cands = [(o, n) for o in opts for n in o.longs if n.startswith(name)]
    if not cands:
        raise GetoptError(f"{prog}: unrecognized option '--{given}'")
    first = cands[0][0]
    if all(o.key == first.key and o.arg == first.arg for o, _ in cands):
        return cands[0]
    names = " ".join(f"'--{n}'" for _, n in cands)
    raise GetoptError(f"{prog}: option '--{name}' is ambiguous; possibilities: {names}")


def getopt_long(
    argv: list[str],
    opts: list[Opt],
    *,
    prog: str,
    permute: bool = True,
    errors: list[str] | None = None,
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Parse ``argv`` (without the program name).

    Returns ``(options, positionals)`` where ``options`` is the ordered list of ``(key, value)``
    (value None for flags and absent optional arguments). On a bad option, raises GetoptError, or
    when ``errors`` is a list, appends the message and carries on (as Slurm does when it parses
    ``#SBATCH`` lines). Options the release the tool answers as does not have are unknown
    (:data:`clustrix_sim.slurm.versions.OPTIONS_SINCE`).
    """
    from clustrix_sim.slurm.versions import has_option, has_short

    opts = [o if not o.short or has_short(prog, o.short) else Opt(o.key, "", o.longs, o.arg)
            for o in opts if has_option(prog, o.key)]
    shorts = {o.short: o for o in opts if o.short}
    found: list[tuple[str, str | None]] = []
    positionals: list[str] = []

    def fail(message: str) -> None:
        if errors is None:
            raise GetoptError(message)
        errors.append(message)

    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        i += 1
        if arg == "--":
            positionals.extend(argv[i:])
            break
        if arg.startswith("--"):
            body = arg[2:]
            name, eq, value = body.partition("=")
            try:
                opt, full = _match_long(name, opts, prog, body)
            except GetoptError as exc:
                fail(str(exc))
                continue
            if opt.arg == NO_ARG:
                if eq:
                    fail(f"{prog}: option '--{full}' doesn't allow an argument")
                    continue
                found.append((opt.key, None))
            elif opt.arg == OPTIONAL:
                found.append((opt.key, value if eq else None))
            elif eq:
                found.append((opt.key, value))
            elif i < n:
                found.append((opt.key, argv[i]))
                i += 1
            else:
                fail(f"{prog}: option '--{full}' requires an argument")
            continue
        if arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                letter = arg[j]
                j += 1
                opt = shorts.get(letter)
                if opt is None:
                    fail(f"{prog}: invalid option -- '{letter}'")
                    continue
                if opt.arg == NO_ARG:
                    found.append((opt.key, None))
                    continue
                rest = arg[j:]
                if rest:
                    found.append((opt.key, rest))
                elif opt.arg == OPTIONAL:
                    found.append((opt.key, None))
                elif i < n:
                    found.append((opt.key, argv[i]))
                    i += 1
                else:
                    fail(f"{prog}: option requires an argument -- '{letter}'")
                break
            continue
        positionals.append(arg)
        if not permute:
            positionals.extend(argv[i:])
            break
    return found, positionals


def table(spec: str) -> list[Opt]:
    """Build an option table from compact lines ``key short long1|long2 arg`` (arg = - : ?),
    one option per line, ``.`` for "no short option"; keeps tool modules short and readable."""
    out: list[Opt] = []
    for line in spec.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, short, longs, kind = line.split()
        out.append(
            Opt(
                key=key,
                short="" if short == "." else short,
                longs=tuple(x for x in longs.split("|") if x != "."),
                arg={"-": NO_ARG, ":": REQUIRED, "?": OPTIONAL}[kind],
            )
        )
    return out
