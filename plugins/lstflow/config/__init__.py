"""Production configs: the lstmcpipe YAML format, loaded into a typed, validated model.

Imported by the DAG factory at parse time, so it stays light: PyYAML only, no Airflow, no
lstchain (that one is imported lazily by ``check_with_lstchain``).
"""

from lstflow.config.errors import ConfigError, ConfigIssue, ConfigWarning
from lstflow.config.library import Library, discover, load_files, load_headers, load_library
from lstflow.config.loader import load_header, load_production
from lstflow.config.model import (
    STAGE_ORDER,
    Dl1abEntry,
    Dl1ToDl2Entry,
    Dl2ToIrfsEntry,
    Dl2ToSensitivityEntry,
    Entry,
    MergeDl1Entry,
    ProductionConfig,
    ProductionHeader,
    R0ToDl1Entry,
    SlurmConfig,
    SourceEnvironment,
    StageEntry,
    TrainPipeEntry,
    TrainTestSplitEntry,
)
from lstflow.config.parts import ProductionParts

__all__ = [
    "STAGE_ORDER",
    "ConfigError",
    "ConfigIssue",
    "ConfigWarning",
    "Dl1ToDl2Entry",
    "Dl1abEntry",
    "Dl2ToIrfsEntry",
    "Dl2ToSensitivityEntry",
    "Entry",
    "Library",
    "MergeDl1Entry",
    "ProductionConfig",
    "ProductionHeader",
    "ProductionParts",
    "R0ToDl1Entry",
    "SlurmConfig",
    "SourceEnvironment",
    "StageEntry",
    "TrainPipeEntry",
    "TrainTestSplitEntry",
    "discover",
    "load_files",
    "load_header",
    "load_headers",
    "load_library",
    "load_production",
]
