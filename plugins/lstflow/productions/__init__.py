"""MC productions: one DAG per production config, its stage operator and run provenance."""
