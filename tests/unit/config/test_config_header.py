"""The header reader gives what the full parse gives, minus the entries, on every config we have.

``load_header`` (what the productions DAG file reads) must agree with ``load_production`` on
the header and on every problem outside the stage entries; it reads only the header's YAML when
the text is plain (``split_header``) and falls back to the whole document otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from config_helpers import CHECKOUT_ROOT, MINIMAL, WriteConfig
from reliability.corpus import ENTRY_ISSUE, build_library, only_in_entries

from lstflow.config import ConfigError, ProductionConfig, discover, load_header, load_production
from lstflow.config import loader as loader_module
from lstflow.config.header_text import split_header
from lstflow.config.model import Loaded

pytestmark = pytest.mark.unit

PLAIN = MINIMAL.format(prod_id="plain")
ENV = {"LSTFLOW_DATA_ROOT": "/data", "LSTFLOW_ANALYSIS_ENV": "/env"}


def outcome(load: Callable[..., Loaded], path: Path) -> Loaded | ConfigError:
    try:
        return load(path, environ=ENV)
    except ConfigError as error:
        return error


def whole_document_header(path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """``load_header`` with the text split turned off: the header as the full parse reads it."""
    with monkeypatch.context() as patch:
        patch.setattr(loader_module, "split_header", lambda text: None)
        return outcome(load_header, path)


def assert_header_agrees(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = outcome(load_production, path)
    header = outcome(load_header, path)
    reference = whole_document_header(path, monkeypatch)
    if isinstance(full, ProductionConfig):
        assert header == full.header() == reference, path
        return
    outside = [issue for issue in full.issues if not ENTRY_ISSUE.match(issue.path)]
    if isinstance(header, ConfigError):
        assert isinstance(reference, ConfigError), path
        assert header.issues == reference.issues == outside, path
    else:
        # Valid header, invalid entries: the DAG is built, the stage fails when it runs.
        assert only_in_entries(full), (path, full.issues)
        assert header == reference or only_in_entries(reference), path  # type: ignore[arg-type]


def library_files(tmp_path: Path, samples_dir: Path) -> list[Path]:
    corpus = build_library(tmp_path / "corpus")
    files = discover(tmp_path / "corpus")
    assert len(files) >= len(corpus.bad) + len(corpus.good)
    demo = discover(CHECKOUT_ROOT / "include" / "production_configs")
    assert demo and discover(samples_dir)
    return [*demo, *discover(samples_dir), *files]


def test_header_agrees_with_the_full_parse_everywhere(
    tmp_path: Path, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = library_files(tmp_path, samples_dir)
    for path in files:
        assert_header_agrees(path, monkeypatch)
    # The real configs are plain: the header reader never parses their entries.
    for path in [
        *discover(CHECKOUT_ROOT / "include" / "production_configs"),
        *discover(samples_dir),
    ]:
        assert split_header(path.read_text()) is not None, path


def test_a_bad_entry_leaves_the_header_valid(write_config: WriteConfig) -> None:
    path = write_config(PLAIN.replace("    output: /data/DL1/gamma\n", "    ouput: /x\n"))
    with pytest.raises(ConfigError, match=r"stages\.r0_to_dl1\[0\]: unknown key 'ouput'"):
        load_production(path)
    header = load_header(path)
    assert (header.prod_id, header.stage_names) == ("plain", ("r0_to_dl1", "merge_dl1"))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("stages:\n", "stages: # the entries\n"),
        ("    options: --no-image\n", "    options: '--no-image' # quoted, closed\n"),
        ("  - input: /data/DL1/gamma\n", '  - input: "/data/DL1/\\"gamma\\""\n'),
        (
            "    output: /data/DL1/gamma_merged.h5\n    options: --no-image\n",
            "    output: /data/DL1/gamma_merged.h5\n    options: --no-image\n"
            "  # the same list, written deeper\n  dl1_to_dl2:\n\n    - input: /a\n"
            "      output: /b\n      path_model: /m\n",
        ),
        ("stages:\n", "# a comment\nstages:\n\n"),
    ],
    ids=["comment-after-stages", "closed-quote", "escaped-quote", "deeper-list", "comments"],
)
def test_plain_variants_are_split(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    text = PLAIN.replace(old, new)
    assert old in PLAIN and split_header(text) is not None
    path = write_config(text)
    assert isinstance(outcome(load_production, path), ProductionConfig)
    assert_header_agrees(path, monkeypatch)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("stages:\n  r0_to_dl1:\n", "stages: {r0_to_dl1: [{input: /a, output: /b}]}\nx:\n  r0:\n"),
        ("    output: /data/DL1/gamma\n", "    output: &out /data/DL1/gamma\n"),
        ("    options: --no-image\n", "    options: '--no-image\n      --more'\n"),
        ("    options: --no-image\n", "    options: [--no-image,\n      --more]\n"),
        ("    options: --no-image\n", "    options: |\n      --no-image\n"),
        ("  merge_dl1:\n  - input", "  merge_dl1:\n    input"),
        ("  merge_dl1:\n", "  merge_dl1: []\n  dl1ab:\n"),
        ("  merge_dl1:\n", "  merge_dl2:\n"),
        ("workflow_kind", "---\nworkflow_kind"),
        ("    options: --no-image\n", "    options:\t--no-image\n"),
        ("stages_to_run: [r0_to_dl1, merge_dl1]\n", "stages_to_run: !!seq [r0_to_dl1]\n"),
    ],
    ids=[
        "flow-stages",
        "anchor",
        "multi-line-quote",
        "multi-line-flow",
        "block-scalar",
        "stage-is-mapping",
        "inline-stage-value",
        "unknown-stage",
        "document-marker",
        "tab",
        "tag",
    ],
)
def test_other_documents_are_parsed_whole(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    text = PLAIN.replace(old, new)
    assert old in PLAIN and split_header(text) is None
    assert_header_agrees(write_config(text), monkeypatch)


def test_headers_are_cached_apart_from_configs(write_config: WriteConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = write_config(PLAIN)
    header = load_header(path, cache_dir=cache)
    assert len(list(cache.iterdir())) == 1
    assert load_header(path, cache_dir=cache) == header
    assert load_production(path, cache_dir=cache).header() == header
    assert len(list(cache.iterdir())) == 2
