"""Translate a legacy per-entry ``slurm_options`` string (``-p xxl --mem=100G``) into options.

lstmcpipe wrote these strings in 2022-2023 and its 0.11.5 ignores them; lstflow applies them,
so the production gets the resources its authors asked for. Every sbatch short option with a long
form is read in the ``-p x``, ``-px``, ``--opt=value`` and ``--opt value`` forms; flags without a
value cannot become ``--name=value`` options and are reported, never dropped silently.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

# sbatch's short options that take a value, by their long name (``man sbatch``).
SHORT_OPTIONS: dict[str, str] = {
    "A": "account",
    "a": "array",
    "B": "extra-node-info",
    "b": "begin",
    "C": "constraint",
    "c": "cpus-per-task",
    "D": "chdir",
    "d": "dependency",
    "e": "error",
    "F": "nodefile",
    "G": "gpus",
    "i": "input",
    "J": "job-name",
    "L": "licenses",
    "M": "clusters",
    "m": "distribution",
    "N": "nodes",
    "n": "ntasks",
    "o": "output",
    "p": "partition",
    "q": "qos",
    "S": "core-spec",
    "t": "time",
    "w": "nodelist",
    "x": "exclude",
}
# sbatch's short options that are flags (no value), by their long name.
SHORT_FLAGS: dict[str, str] = {
    "H": "hold",
    "h": "help",
    "k": "no-kill",
    "O": "overcommit",
    "Q": "quiet",
    "s": "oversubscribe",
    "u": "usage",
    "V": "version",
    "v": "verbose",
    "W": "wait",
}
MOVE_FIX = "move it to 'extra_slurm_options: {name: value}'"


@dataclass(frozen=True, slots=True)
class Translation:
    """``options`` in the string's order (a later repeat wins), and what could not be read."""

    options: tuple[tuple[str, str], ...]
    problems: tuple[tuple[str, str], ...]  # (message, fix)


def translate(text: str) -> Translation:
    """``"-p xxl --mem=100G -c16"`` -> ``partition=xxl, mem=100G, cpus-per-task=16``."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        return Translation((), ((f"cannot split '{text}': {exc}", MOVE_FIX),))
    options: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    while tokens:
        token = tokens.pop(0)
        if token.startswith("--"):
            name, sep, value = token[2:].partition("=")
            if not sep and tokens and not tokens[0].startswith("-"):
                value = tokens.pop(0)
            if not name or not value:
                problems.append(
                    (
                        f"'{token}' has no value: a flag cannot be passed as a Slurm option",
                        "remove it, or give it a value in 'extra_slurm_options: {name: value}'",
                    )
                )
                continue
            options[name] = value
        elif token.startswith("-") and len(token) > 1:
            letter, attached = token[1], token[2:]
            if letter in SHORT_FLAGS:
                problems.append(
                    (
                        f"'-{letter}' (--{SHORT_FLAGS[letter]}) is a flag without a value, which "
                        "cannot be passed as a Slurm option",
                        "remove it from slurm_options",
                    )
                )
                continue
            if letter not in SHORT_OPTIONS:
                problems.append((f"'-{letter}' is not an sbatch short option", MOVE_FIX))
                if not attached and tokens and not tokens[0].startswith("-"):
                    tokens.pop(0)  # its value, if it has one: one problem, not two
                continue
            value = attached
            if not value and tokens:
                value = tokens.pop(0)
            if not value or value.startswith("="):
                problems.append(
                    (
                        f"cannot read the value of '-{letter}' in '{text}'",
                        f"write '-{letter} VALUE' or '--{SHORT_OPTIONS[letter]}=VALUE'",
                    )
                )
                continue
            options[SHORT_OPTIONS[letter]] = value
        else:
            problems.append((f"cannot translate '{token}' into a Slurm option", MOVE_FIX))
    return Translation(tuple(options.items()), tuple(problems))
