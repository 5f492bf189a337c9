"""The options an entry's ``options`` string may hold, per lstchain tool that receives it.

lstmcpipe pasted ``options`` into a shell line, so ``--no-image ; rm -rf ~`` ran ``rm``; lstflow
passes them as arguments (nothing reaches a shell), but a wrong option still fails only when
lstchain runs on Slurm. Checked here instead, against each tool's option list captured from
lstchain 0.12 (importing lstchain would make ``lstflow validate`` slow to start);
tests/unit/config/test_tool_options.py checks the lists against lstchain's own parsers.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from lstflow.config.errors import did_you_mean

# ``--Class.trait=value``: any trait of a ctapipe Tool (traitlets' own command-line syntax).
_TRAIT_OPTION = re.compile(r"--[A-Za-z_]\w*\.[A-Za-z_]\w*\Z")


@dataclass(frozen=True)
class ToolOptions:
    """One tool's command-line options: those that take a value and the flags.

    ``many_values`` take every following non-option token (argparse ``nargs='*'``);
    ``traitlets`` tools also accept ``--Class.trait=value``.
    """

    tool: str
    example: str
    with_value: frozenset[str]
    flags: frozenset[str]
    many_values: frozenset[str] = frozenset()
    traitlets: bool = False

    def problems(self, options: str) -> list[str]:
        """What is wrong with ``options`` for this tool; empty when lstchain would accept it."""
        try:
            tokens = shlex.split(options)
        except ValueError as exc:
            return [f"cannot split the options: {exc}"]
        problems: list[str] = []
        position = 0
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if not token.startswith("-"):
                problems.append(
                    f"'{token}' is not an option of {self.tool} (options are passed to it as "
                    "arguments, never to a shell: ';', '&&' or a second command do not work)"
                )
                continue
            name, has_inline, _value = token.partition("=")
            if name in self.flags and not has_inline:
                continue
            if name in self.many_values:
                while position < len(tokens) and not tokens[position].startswith("-"):
                    position += 1
            elif name in self.with_value or (self.traitlets and _TRAIT_OPTION.match(name)):
                if not has_inline:
                    if position >= len(tokens):
                        problems.append(f"{name} of {self.tool} needs a value")
                    position += 1
            elif name in self.flags:
                problems.append(f"{name} of {self.tool} takes no value")
            else:
                known = self.with_value | self.flags | self.many_values
                choices = [option for option in known if option.startswith("--")]
                problems.append(
                    f"unknown option {name} of {self.tool} "
                    f"({did_you_mean(name, choices, 'its options')})"
                )
        return problems


MERGE_HDF5_FILES = ToolOptions(
    "lstchain_merge_hdf5_files",
    "--no-image",
    with_value=frozenset(
        {"-d", "--input-dir", "-o", "--output-file", "-p", "--pattern", "-r", "--run-number"}
    ),
    flags=frozenset({"--no-image", "--no-progress", "--skip-checks"}),
    many_values=frozenset({"--keys-to-copy"}),
)
CREATE_IRF_FILES = ToolOptions(
    "lstchain_create_irf_files",
    "--point-like",
    with_value=frozenset(
        {
            "-g",
            "--input-gamma-dl2",
            "-p",
            "--input-proton-dl2",
            "-e",
            "--input-electron-dl2",
            "-o",
            "--output-irf-file",
            "--irf-obs-time",
            "--global-gh-cut",
            "--gh-efficiency",
            "--theta-containment",
            "--global-theta-cut",
            "--alpha-containment",
            "--global-alpha-cut",
            "--allowed-tels",
            "--overwrite",
            "--scale-true-energy",
        }
    ),
    flags=frozenset(
        {
            "--point-like",
            "--overwrite",
            "--source-dep",
            "--energy-dependent-gh",
            "--energy-dependent-theta",
            "--energy-dependent-alpha",
        }
    ),
    traitlets=True,
)
#: The tool each stage's ``options`` are passed to.
STAGE_TOOLS: dict[str, ToolOptions] = {
    "merge_dl1": MERGE_HDF5_FILES,
    "dl2_to_irfs": CREATE_IRF_FILES,
}
