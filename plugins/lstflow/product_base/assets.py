"""Airflow Assets that link MC productions to the nights that use their models.

The train_pipe task of a production (in a lineage-aware run, its ``models_ready`` task, after
every lineage group's training) lists ``models_asset(prod_id)`` in its ``outlets``; a DAG
step that reads RF models (the nightly DL1→DL2) lists the same asset in its ``inlets``, with the
prod_id of the MC production that trained them (the nightly config's ``mc_prod``). Airflow then
shows, on the asset's page, which production run updated the models and which nights read them.

The URI names the production, not a path: the same models are reached through different mount
points on the cluster and on the onsite machines, and a prod_id is what both sides agree on.
"""

from __future__ import annotations

from airflow.sdk import Asset

SCHEME = "lstflow"
GROUP = "lstflow-models"


def models_uri(prod_id: str) -> str:
    if not prod_id or "/" in prod_id:
        raise ValueError(f"models asset: prod_id {prod_id!r} must be non-empty and have no '/'")
    return f"{SCHEME}://models/{prod_id}"


def models_asset(prod_id: str) -> Asset:
    """The RF models directory trained by production ``prod_id`` (its train_pipe output)."""
    return Asset(name=f"mc-models-{prod_id}", uri=models_uri(prod_id), group=GROUP)
