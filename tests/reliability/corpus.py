"""A generated library of malformed production configs, with the key each error must name.

Every bad config sits in its own directory with a valid lstchain JSON, so its only problem is
the one it was made with. ``build_library`` writes them next to good productions (the real
production samples plus one of ours) into one library, as a reviewer's pull requests would.

Cases, by category: missing keys, wrong types, typos, legacy (pre-2022) formats, a mapping
instead of a list, YAML-level attacks (alias bombs, non-UTF-8, huge files, several documents,
Python tags, duplicate keys), configs sharing a prod_id that disagree on their environment,
semantic mistakes (unknown stages, unset
``${VAR}``, a broken lstchain JSON) and shell metacharacters in the prod_id. ``key`` is what
the error must name: a YAML path or key name, or ``""`` when the problem is the whole file.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lstflow.config import ConfigError, load_production
from lstflow_dev.testdata import production_samples_dir

# Keys a valid config may leave out (dotted, list indices dropped); every other key is required.
OPTIONAL_KEYS = {
    "slurm_config",
    "slurm_config.user_account",
    "source_environment.conda_env",
    "stages.train_test_split.output.ratio",
    "stages.merge_dl1.options",
    "stages.dl2_to_irfs.options",
    "stages.dl2_to_irfs.input.proton_file",
    "stages.dl2_to_irfs.input.electron_file",
    "stages.r0_to_dl1.extra_slurm_options",
    "stages.r0_to_dl1.extra_slurm_options.mem",
}
# Values that are never a path.
NOT_A_PATH: tuple[tuple[str, Any], ...] = (
    ("int", 42),
    ("float", 3.5),
    ("bool", True),
    ("list", ["/data/a", "/data/b"]),
    ("mapping", {"path": "/data/a"}),
    ("null", None),
    ("empty", ""),
    ("blank", "   "),
)
LEGACY_KEYS = (
    "stages_to_be_run",
    "base_path",
    "base_path_dl0",
    "obs_date",
    "zenith",
    "pointing",
    "particles",
    "offset_gammas",
    "merging_options",
    "irf_config",
)
# Metacharacters a prod_id (it names DAGs and directories) must refuse outright.
BAD_PROD_IDS = (
    "prod with spaces",
    "prod;touch canary",
    "prod$(touch canary)",
    "prod`touch canary`",
    "prod'quote",
    'prod"dquote',
    "prod\nnewline",
    "../escape",
    "prod/slash",
    "prod|pipe",
    "prod&amp",
    "-dash-first",
)


@dataclass(frozen=True)
class BadConfig:
    """One malformed config: ``content`` is written verbatim as ``<name>/lstmcpipe_config.yaml``."""

    name: str
    category: str
    content: bytes
    key: str
    json_text: str = "{}\n"


@dataclass
class Library:
    """The written library: bad configs by file, good productions' prod_ids by file."""

    root: Path
    bad: dict[Path, BadConfig] = field(default_factory=dict)
    good: dict[Path, str] = field(default_factory=dict)


def base_config(prod_id: str) -> dict[str, Any]:
    """A valid production using every stage and every optional key."""
    return {
        "workflow_kind": "lstchain",
        "prod_id": prod_id,
        "source_environment": {"source_file": "/opt/env/bin/activate", "conda_env": "lst"},
        "slurm_config": {"user_account": "aswg"},
        "stages_to_run": [
            "r0_to_dl1",
            "train_test_split",
            "merge_dl1",
            "train_pipe",
            "dl1_to_dl2",
            "dl2_to_irfs",
            "dl2_to_sensitivity",
        ],
        "stages": {
            "r0_to_dl1": [
                {
                    "input": "/data/DL0/gamma",
                    "output": "/data/DL1/gamma",
                    "extra_slurm_options": {"mem": "4G"},
                }
            ],
            "train_test_split": [
                {
                    "input": "/data/DL1/gamma",
                    "output": {"train": "/data/train", "test": "/data/test", "ratio": 0.5},
                }
            ],
            "merge_dl1": [
                {"input": "/data/train", "output": "/data/m.h5", "options": "--no-image"}
            ],
            "train_pipe": [
                {"input": {"gamma": "/data/g.h5", "proton": "/data/p.h5"}, "output": "/data/rf"}
            ],
            "dl1_to_dl2": [{"input": "/data/test/g.h5", "path_model": "/data/rf", "output": "/d2"}],
            "dl2_to_irfs": [
                {
                    "input": {
                        "gamma_file": "/d2/g.h5",
                        "proton_file": "/d2/p.h5",
                        "electron_file": "/d2/e.h5",
                    },
                    "output": "/irf/irf.fits.gz",
                    "options": "--point-like",
                }
            ],
            "dl2_to_sensitivity": [
                {
                    "input": {
                        "gamma_file": "/d2/g.h5",
                        "proton_file": "/d2/p.h5",
                        "electron_file": "/d2/e.h5",
                    },
                    "output": "/irf/sens.fits.gz",
                }
            ],
        },
    }


def dump(config: object) -> bytes:
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode()


def _leaves(node: object, path: str = "", schema: str = "") -> Iterator[tuple[str, str, object]]:
    """(YAML path, schema path without list indices, value) of every key in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_key(key, value, path, schema)
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for key, value in node[0].items():
            yield from _walk_key(key, value, f"{path}[0]", schema)


def _walk_key(key: str, value: object, path: str, schema: str) -> Iterator[tuple[str, str, object]]:
    key_path = f"{path}.{key}" if path else key
    key_schema = f"{schema}.{key}" if schema else key
    yield key_path, key_schema, value
    if key != "stages_to_run":
        yield from _leaves(value, key_path, key_schema)


def _edit(config: dict[str, Any], yaml_path: str, change: Callable[[dict[str, Any], str], None]):
    """Apply ``change(parent_mapping, key)`` at ``yaml_path`` (``a.b[0].c``) of a copy."""
    result = copy.deepcopy(config)
    node: Any = result
    parts = yaml_path.split(".")
    for part in parts[:-1]:
        name, _, index = part.partition("[")
        node = node[name]
        if index:
            node = node[int(index.rstrip("]"))]
    change(node, parts[-1])
    return result


def _set(value: object) -> Callable[[dict[str, Any], str], None]:
    def change(parent: dict[str, Any], key: str) -> None:
        parent[key] = copy.deepcopy(value)

    return change


def _delete(parent: dict[str, Any], key: str) -> None:
    del parent[key]


def _typo(word: str) -> str:
    """A plausible misspelling: two letters swapped, or the last one doubled."""
    if len(word) > 3 and word[1] != word[2]:
        return word[0] + word[2] + word[1] + word[3:]
    return word + word[-1]


def _rename(new_key: str) -> Callable[[dict[str, Any], str], None]:
    def change(parent: dict[str, Any], key: str) -> None:
        parent[new_key] = parent.pop(key)

    return change


def structural_cases() -> Iterator[BadConfig]:
    """Missing keys, wrong path types and typos, derived from every key of the base config."""
    counter = iter(range(10_000))

    def case(prefix: str, category: str, config: dict[str, Any], key: str) -> BadConfig:
        name = f"{prefix}-{next(counter):03d}"
        if "prod_id" in config:
            config["prod_id"] = name
        return BadConfig(name, category, dump(config), key)

    for yaml_path, schema_path, value in _leaves(base_config("x")):
        key = yaml_path.rsplit(".", 1)[-1]
        if schema_path not in OPTIONAL_KEYS:
            config = _edit(base_config("x"), yaml_path, _delete)
            yield case("missing", "missing key", config, f"'{key}'")
        if isinstance(value, str) and value.startswith("/"):
            optional = schema_path in OPTIONAL_KEYS
            for label, wrong in NOT_A_PATH:
                if optional and wrong is None:
                    continue
                config = _edit(base_config("x"), yaml_path, _set(wrong))
                yield case(f"type-{label}", "wrong type", config, yaml_path)
        if ".extra_slurm_options." in schema_path:
            continue  # any sbatch long option is allowed there: a typo is just another option
        typo = _typo(key)
        config = _edit(base_config("x"), yaml_path, _rename(typo))
        yield case("typo", "typo", config, f"'{typo}'")


def _config(label: str, /, **changes: object) -> dict[str, Any]:
    """The base config named ``label``, with ``a__b=value`` setting key ``a.b``."""
    config = base_config(label)
    for yaml_path, value in changes.items():
        config = _edit(config, yaml_path.replace("__", "."), _set(value))
    return config


def shape_cases() -> Iterator[BadConfig]:
    """Wrong container types: mappings instead of lists, scalars instead of mappings."""
    for stage in base_config("x")["stages"]:
        entry = base_config("x")["stages"][stage][0]
        name = f"mapping-not-list-{stage}"
        config = _edit(base_config(name), f"stages.{stage}", _set(entry))
        yield BadConfig(name, "mapping instead of list", dump(config), f"stages.{stage}")
        name = f"entry-is-string-{stage}"
        config = _edit(base_config(name), f"stages.{stage}", _set(["/data/file.h5"]))
        yield BadConfig(name, "wrong type", dump(config), f"stages.{stage}[0]")
    others: dict[str, tuple[object, str]] = {
        "stages_to_run": ({"r0_to_dl1": True}, "stages_to_run"),
        "stages": (["r0_to_dl1"], "stages"),
        "source_environment": ("/opt/env/bin/activate", "source_environment"),
        "slurm_config": ("aswg", "slurm_config"),
        "workflow_kind": (["lstchain"], "workflow_kind"),
        "prod_id": (["p1", "p2"], "prod_id"),
        "stages.train_test_split[0].output.ratio": ("half", "ratio"),
        "stages.train_test_split[0].output": ("/data/split", "stages.train_test_split[0].output"),
        "stages.merge_dl1[0].options": (["--no-image"], "stages.merge_dl1[0].options"),
        "stages.r0_to_dl1[0].extra_slurm_options": (["--mem=4G"], "extra_slurm_options"),
        "stages.r0_to_dl1[0].extra_slurm_options.mem": (["4G", "8G"], "extra_slurm_options.mem"),
        "stages.train_pipe[0].input": ("/data/g.h5", "stages.train_pipe[0].input"),
    }
    for number, (yaml_path, (wrong, key)) in enumerate(others.items()):
        name = f"shape-{number:02d}"
        config = _edit(base_config(name), yaml_path, _set(wrong))
        yield BadConfig(name, "wrong type", dump(config), key)
    for number, ratio in enumerate((0, 1, 1.5, -0.2, True)):
        name = f"ratio-{number}"
        config = _config(
            name,
            stages__train_test_split=[
                {"input": "/d", "output": {"train": "/t", "test": "/s", "ratio": ratio}}
            ],
        )
        yield BadConfig(name, "wrong type", dump(config), "ratio")


def legacy_cases() -> Iterator[BadConfig]:
    for key in LEGACY_KEYS:
        name = f"legacy-{key}"
        config = base_config(name)
        config[key] = "/fefs/aswg/data/mc/DL0" if "path" in key else ["gamma", "proton"]
        yield BadConfig(name, "legacy format", dump(config), key)
    old = {
        "prod_id": "legacy-whole",
        "base_path": "/fefs/aswg/data/mc/DL0/20200629_prod5_trans_80",
        "stages_to_be_run": ["r0_to_dl1", "merge_and_copy_dl1", "train_pipe", "dl1_to_dl2"],
        "merging_options": {"no_image": True},
        "zenith": "zenith_20deg",
        "particles": ["gamma", "gamma-diffuse", "proton", "electron"],
    }
    yield BadConfig("legacy-whole", "legacy format", dump(old), "stages_to_be_run")


def _semantic_configs() -> Iterator[tuple[str, dict[str, Any], str]]:
    yield (
        "unknown-stage-to-run",
        _config("s1", stages_to_run=["r0_to_dl1", "r0_to_dl2"]),
        ("stages_to_run[1]"),
    )
    yield "unknown-stage", _config("s2", stages__dl3=[{"input": "/a", "output": "/b"}]), "dl3"
    yield "stage-not-defined", _config("s3", stages_to_run=["dl1ab"]), "dl1ab"
    both = _config("s4", stages_to_run=["r0_to_dl1", "dl1ab"])
    both["stages"]["dl1ab"] = [{"input": "/a", "output": "/b"}]
    yield "r0-and-dl1ab", both, "stages_to_run"
    yield "empty-stages-to-run", _config("s5", stages_to_run=[]), "stages_to_run"
    yield "stage-is-number", _config("s6", stages_to_run=["merge_dl1", 3]), "stages_to_run[1]"
    yield "bad-workflow-kind", _config("s7", workflow_kind="lstchian"), "workflow_kind"
    yield "empty-prod-id", _config("s8", prod_id=None), "prod_id"
    noise = _config("s9")
    noise["dl1_noise_tune_data_run"] = "/fefs/run.h5"
    yield "noise-tune-half", noise, "dl1_noise_tune_mc_run"
    unset = _config(
        "s10", stages__merge_dl1=[{"input": "${LSTFLOW_CORPUS_UNSET}/x", "output": "/o"}]
    )
    yield "unset-variable", unset, "LSTFLOW_CORPUS_UNSET"
    dashes = _config(
        "s11",
        stages__merge_dl1=[{"input": "/a", "output": "/b", "extra_slurm_options": {"--mem": "4G"}}],
    )
    yield "slurm-option-dashes", dashes, "--mem"
    newline = _config(
        "s12",
        stages__merge_dl1=[
            {"input": "/a", "output": "/b", "extra_slurm_options": {"mem": "4G\n#SBATCH --uid=0"}}
        ],
    )
    yield "slurm-option-newline", newline, "extra_slurm_options.mem"
    flag = _config(
        "s13",
        stages__merge_dl1=[
            {"input": "/a", "output": "/b", "extra_slurm_options": {"exclusive": None}}
        ],
    )
    yield "slurm-option-flag", flag, "extra_slurm_options.exclusive"
    legacy_opts = _config(
        "s14",
        stages__merge_dl1=[{"input": "/a", "output": "/b", "slurm_options": "--mem=4G 'unclosed"}],
    )
    yield "slurm-options-unsplittable", legacy_opts, "slurm_options"
    conflict = _config(
        "s15",
        stages__train_test_split=[
            {
                "input": "/d",
                "output": {"train": "/t", "test": "/s", "ratio": 0.3},
                "options": {"test_size": 0.6},
            }
        ],
    )
    yield "test-size-conflict", conflict, "test_size"
    for number, prod_id in enumerate(BAD_PROD_IDS):
        yield f"prod-id-metachar-{number:02d}", _config(prod_id), "prod_id"


def semantic_cases() -> Iterator[BadConfig]:
    for name, config, key in _semantic_configs():
        if not (name.startswith("prod-id") or name == "empty-prod-id"):
            config["prod_id"] = name
        yield BadConfig(name, "semantic", dump(config), key)
    yield BadConfig(
        "lstchain-json-broken",
        "semantic",
        dump(base_config("json-broken")),
        "lstchain_config",
        json_text='{"source_config": ',
    )
    yield BadConfig(
        "lstchain-json-not-utf8",
        "semantic",
        dump(base_config("json-latin1")),
        "lstchain_config",
        json_text='{"name": "\xe9"}'.encode("latin-1").decode("latin-1"),
    )


def _bomb(levels: int, width: int) -> bytes:
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels):
        refs = ", ".join(f"*a{level - 1}" for _ in range(width))
        lines.append(f"a{level}: &a{level} [{refs}]")
    config = dump(base_config(f"bomb-{levels}-{width}")).decode()
    return (config + "\n".join(lines) + "\n").encode()


def yaml_cases() -> Iterator[BadConfig]:
    """Attacks and accidents below the schema: the whole file is the problem (key ``""``)."""
    good = dump(base_config("yaml-level"))
    for levels, width in ((9, 10), (12, 6), (25, 2), (7, 30)):
        yield BadConfig(f"alias-bomb-{levels}x{width}", "alias bomb", _bomb(levels, width), "")
    latin1 = good.decode().replace("/data/m.h5", "/data/m\xe9.h5").encode("latin-1")
    yield BadConfig("not-utf8-latin1", "non-UTF-8", latin1, "")
    yield BadConfig("not-utf8-utf16", "non-UTF-8", good.decode().encode("utf-16"), "")
    yield BadConfig("not-utf8-binary", "non-UTF-8", b"\x89HDF\r\n\x1a\n\x00\xff\xfe" * 64, "")
    huge = good + b"# padding\n" + (b"#" + b"x" * 1023 + b"\n") * (65 * 1024)
    yield BadConfig("huge-65MiB", "huge file", huge, "")
    yield BadConfig("empty-file", "wrong type", b"", "")
    yield BadConfig("document-is-list", "wrong type", b"- prod_id: x\n", "")
    yield BadConfig("document-is-scalar", "wrong type", b"just some text\n", "")
    yield BadConfig("two-documents", "invalid YAML", good + b"---\n" + good, "")
    yield BadConfig("unclosed-bracket", "invalid YAML", b"stages_to_run: [r0_to_dl1\n", "")
    yield BadConfig("tab-indent", "invalid YAML", b"source_environment:\n\tsource_file: /a\n", "")
    python_tag = good + b"evil: !!python/object/apply:os.system ['touch /tmp/canary']\n"
    yield BadConfig("python-tag", "invalid YAML", python_tag, "")
    yield BadConfig("undefined-alias", "invalid YAML", good + b"extra: *nowhere\n", "")
    dup_top = good + b"prod_id: again\n"
    yield BadConfig("duplicate-key-top", "duplicate key", dup_top, "prod_id")
    dup_entry = good.replace(
        b"    output: /data/m.h5\n", b"    output: /data/m.h5\n    output: /x\n"
    )
    yield BadConfig("duplicate-key-entry", "duplicate key", dup_entry, "output")


def bad_configs() -> list[BadConfig]:
    cases = [
        *structural_cases(),
        *shape_cases(),
        *legacy_cases(),
        *semantic_cases(),
        *yaml_cases(),
    ]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "corpus case names must be unique"
    return cases


def write_production(directory: Path, content: bytes, json_text: str = "{}\n") -> Path:
    directory.mkdir(parents=True)
    (directory / "lstchain_config.json").write_text(json_text, encoding="latin-1")
    path = directory / "lstmcpipe_config.yaml"
    path.write_bytes(content)
    return path


def build_library(root: Path) -> Library:
    """Write the corpus, two disagreeing configs sharing a prod_id, and the good productions."""
    library = Library(root)
    for case in bad_configs():
        path = write_production(root / "bad" / case.name, case.content, case.json_text)
        library.bad[path] = case
    # Configs sharing a prod_id are parts of one production; these two disagree on the
    # analysis environment, which the parts of one production must share.
    for copy_number in (1, 2):
        twin = BadConfig(
            f"duplicate-prod-id-{copy_number}", "prod_id parts disagree", b"", "source_environment"
        )
        config = base_config("shared_prod_id")
        config["source_environment"]["conda_env"] = f"lstchain-v0.{copy_number}"
        content = dump(config)
        path = write_production(root / "bad" / twin.name, content)
        library.bad[path] = BadConfig(twin.name, twin.category, content, "'shared_prod_id'")
    shutil.copytree(production_samples_dir(), root / "good" / "samples")
    for path in sorted((root / "good" / "samples").rglob("*.yml")) + sorted(
        (root / "good" / "samples").rglob("*.yaml")
    ):
        library.good[path] = yaml.safe_load(path.read_text())["prod_id"]
    ours = write_production(root / "good" / "ours", dump(base_config("corpus_good_production")))
    library.good[ours] = "corpus_good_production"
    return library


ENTRY_ISSUE = re.compile(r"stages\.[a-z0-9_]+\[")
YAML_LINE = re.compile(r"invalid YAML: line (\d+),")
TOP_LEVEL_LINE = re.compile(r"\n(?![ \n#]|- )")


def only_in_entries(error: ConfigError) -> bool:
    """Every problem of ``error`` lies inside the stage entries (a YAML error there included).

    Such a config still gets its DAG (built from the header); its stages fail when they run.
    """
    text = error.path.read_text(errors="replace")
    if "\nstages:" not in text:
        return False
    start = text.index("\nstages:") + 1
    after = TOP_LEVEL_LINE.search(text, start)
    first, last = text[:start].count("\n") + 2, text[: after.start() if after else None].count("\n")
    for issue in error.issues:
        line = YAML_LINE.search(issue.message)
        inside = line is not None and first <= int(line.group(1)) <= last
        if not (ENTRY_ISSUE.match(issue.path) or inside):
            return False
    return True


def entry_only_prod_ids(library: Library) -> dict[Path, str]:
    """The bad configs whose problems are all inside the entries, with their (unique) prod_id."""
    found: dict[Path, str] = {}
    for path in library.bad:
        try:
            load_production(path)
        except ConfigError as error:
            if only_in_entries(error):
                found[path] = yaml.safe_load(path.read_text())["prod_id"]
    shared = {prod_id for prod_id in found.values() if list(found.values()).count(prod_id) > 1}
    return {path: prod_id for path, prod_id in found.items() if prod_id not in shared}


def describe(library: Library) -> str:
    """How many cases of each category the library holds (for failure messages and the README)."""
    counts: dict[str, int] = {}
    for case in library.bad.values():
        counts[case.category] = counts.get(case.category, 0) + 1
    return ", ".join(f"{count} {category}" for category, count in sorted(counts.items()))


if __name__ == "__main__":  # pragma: no cover - a maintainer's look at the corpus
    import sys

    built = build_library(Path(sys.argv[1]))
    print(json.dumps({"bad": len(built.bad), "good": len(built.good)}), describe(built))
