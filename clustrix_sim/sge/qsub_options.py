"""qsub's options, from the command line and from ``#$`` directives, as Grid Engine reads them.

Options are single-dash words (``-cwd``, ``-pe smp 4``); the script's directive lines (every
line starting with the prefix, ``#$`` unless ``-C`` changes it) are read first and the command
line overrides them. A directive line is split on blanks with ``"`` grouping words.
"""

from __future__ import annotations

import shlex

__all__ = ["FLAGS", "ONE_ARG", "QsubError", "directive_options", "parse_argv"]

FLAGS = frozenset({"-cwd", "-V", "-h", "-terse", "-notify", "-clear", "-verify"})
ONE_ARG = frozenset({"-N", "-o", "-e", "-j", "-l", "-t", "-tc", "-hold_jid", "-hold_jid_ad", "-q", "-v",
                     "-S", "-wd", "-P", "-A", "-C", "-b", "-m", "-M", "-r", "-p", "-a", "-ac", "-now",
                     "-sync", "-js", "-R", "-shell", "-i", "-dc", "-sc", "-ckpt", "-c", "-masterq", "-ar",
                     "-dl", "-jsv", "-u", "-soft", "-hard", "-binding", "-pty", "-w"})
TWO_ARGS = frozenset({"-pe"})
NO_ARG_ALSO = frozenset({"-soft", "-hard"})


class QsubError(Exception):
    """A refusal: ``text`` goes to stderr as is, ``rc`` is the exit code."""

    def __init__(self, text: str, rc: int = 1):
        super().__init__(text)
        self.text = text
        self.rc = rc


def parse_argv(argv: list[str]) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """(options in order, positionals: the script or ``-b y`` command and its arguments)."""
    opts: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if not word.startswith("-") or word == "-":
            return opts, argv[i:]
        if word in FLAGS or word in NO_ARG_ALSO:
            opts.append((word, []))
            i += 1
            continue
        if word in TWO_ARGS:
            if i + 2 >= len(argv):
                raise QsubError(f'ERROR! {word} option must have argument', 7)
            opts.append((word, argv[i + 1:i + 3]))
            i += 3
            continue
        if word in ONE_ARG:
            if i + 1 >= len(argv):
                raise QsubError(f'ERROR! {word} option must have argument', 7)
            opts.append((word, [argv[i + 1]]))
            i += 2
            continue
        raise QsubError(f'ERROR! invalid option argument "{word}"', 7)
    return opts, []


def directive_options(script: str, prefix: str) -> list[tuple[str, list[str]]]:
    """The options of every ``<prefix>`` line of the script, in order (a ``-b`` etc. inside a
    script is read like on the command line; positionals there are ignored)."""
    if not prefix:
        return []
    found: list[tuple[str, list[str]]] = []
    for line in script.splitlines():
        if not line.startswith(prefix):
            continue
        try:
            words = shlex.split(line[len(prefix):], comments=True)
        except ValueError:
            words = line[len(prefix):].replace('"', "").split()
        opts, _ = parse_argv(words)
        found.extend(opts)
    return found
