"""The code location for Kubernetes: the same Definitions, every step in its own pod (k8s_job_executor)."""

from __future__ import annotations

import dagster as dg
from dagster_k8s import k8s_job_executor

from orchestration.definitions import defs as platform_defs

# A pod per step costs seconds to start: steps work on batches of studies, not single images.
# Resources here are the step pods' requests; the run pod's come from the Helm values. Pools (pacs,
# render) are enforced by the instance across pods: `dagster instance concurrency set pacs 2`.
STEP_EXECUTOR = k8s_job_executor.configured(
    {
        "max_concurrent": 4,
        "env_config_maps": ["sgm-platform-env"],
        "env_secrets": ["sgm-platform-secrets"],
        "step_k8s_config": {
            "container_config": {
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                    "limits": {"cpu": "2", "memory": "4Gi"},
                }
            }
        },
    },
    name="k8s_job_executor",
)

defs = dg.Definitions.merge(platform_defs, dg.Definitions(executor=STEP_EXECUTOR))
