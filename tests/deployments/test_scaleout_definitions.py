"""Scale-out settings in the Definitions: pools, the celery job, the Kubernetes step executor."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.definition_config_schema import ConfiguredDefinitionConfigSchema

from orchestration.definitions import defs
from orchestration.distributed import INGEST_AND_LINK, build_ingest_and_link_job


def test_pacs_retrieval_and_rendering_are_limited_by_pools() -> None:
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("pacs_mammography_studies")).pools == {"pacs"}
    assert graph.get(dg.AssetKey("annotation_images")).pools == {"render"}


def test_ingest_and_link_job_runs_its_assets_and_checks_on_celery() -> None:
    job = build_ingest_and_link_job()
    assert job.name == INGEST_AND_LINK
    assert job.executor_def.name == "celery"
    steps = {node.name for node in job.nodes}
    assert {"dicom_instances", "linked_studies"} <= steps
    assert len(steps) >= 4, "the asset checks are steps of their own, so they spread over workers"


def test_kubernetes_code_location_runs_every_step_in_a_pod() -> None:
    from orchestration.k8s_definitions import defs as k8s_defs

    job = k8s_defs.resolve_job_def("ingest_dicom_job")
    assert job.executor_def.name == "k8s_job_executor"
    schema = job.executor_def.config_schema
    assert isinstance(schema, ConfiguredDefinitionConfigSchema)
    resolved = schema.resolve_config({}).value
    assert resolved is not None
    config = resolved["config"]
    assert config["max_concurrent"] == 4
    assert "resources" in config["step_k8s_config"]["container_config"]
    # The celery job keeps its own executor wherever it is loaded.
    assert k8s_defs.resolve_job_def(INGEST_AND_LINK).executor_def.name == "celery"
