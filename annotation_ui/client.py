"""A thin wrapper over the label-studio-sdk 2.x client, plus the few endpoints the SDK lacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import requests
from label_studio_sdk import LabelStudio

from emr_core.settings import Settings

TIMEOUT = 120.0  # seconds; exports of large projects take a while


@dataclass
class LabelStudioClient:
    """One user's API access to our Label Studio (admin or a reader)."""

    url: str
    token: str
    _http: requests.Session = field(default_factory=requests.Session, init=False, repr=False)

    def __post_init__(self) -> None:
        self._http.headers["Authorization"] = f"Token {self.token}"

    @cached_property
    def sdk(self) -> LabelStudio:
        return LabelStudio(base_url=self.url, api_key=self.token, timeout=TIMEOUT)

    def as_user(self, token: str) -> LabelStudioClient:
        """The same server seen with another user's token."""
        return LabelStudioClient(self.url, token)

    def get(self, path: str, **params: Any) -> Any:
        response = self._http.get(f"{self.url}{path}", params=params, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, payload: Any) -> Any:
        response = self._http.post(f"{self.url}{path}", json=payload, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()

    def whoami(self) -> dict[str, Any]:
        return self.get("/api/current-user/whoami")

    def create_project(self, title: str, label_config: str, **options: Any) -> int:
        """A project; options are Label Studio project fields (maximum_annotations, ...)."""
        return int(self.sdk.projects.create(title=title, label_config=label_config, **options).id)

    def delete_project(self, project_id: int) -> None:
        self.sdk.projects.delete(id=project_id)

    def add_local_storage(self, project_id: int, path: str) -> int:
        """Allow the project to serve images from a folder under the document root."""
        storage = self.sdk.import_storage.local.create(
            project=project_id, path=path, use_blob_urls=False, regex_filter=r".*\.json$", title="rendered images"
        )
        return int(storage.id)

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks in the given order; returns their ids in that order."""
        response = self.sdk.projects.import_tasks(id=project_id, request=tasks, return_task_ids=True)
        return [int(t) for t in response.task_ids or []]

    def create_annotation(self, task_id: int, result: list[dict[str, Any]]) -> int:
        return int(self.sdk.annotations.create(id=task_id, result=result).id)

    def update_annotation(self, annotation_id: int, result: list[dict[str, Any]]) -> None:
        self.sdk.annotations.update(id=annotation_id, result=result)

    def create_prediction(self, task_id: int, result: list[dict[str, Any]], model_version: str) -> int:
        return int(self.sdk.predictions.create(task=task_id, result=result, model_version=model_version).id)

    def export_annotated(self, project_id: int) -> list[dict[str, Any]]:
        """Every annotated task of a project with its annotations (completed_by, updated_by, result)."""
        return self.get(f"/api/projects/{project_id}/export", exportType="JSON", download_all_tasks="false")

    def prediction_task_ids(self, project_id: int) -> set[int]:
        """Tasks of a project that carry predictions (annotated or not)."""
        if not self.project_summary(project_id).get("total_predictions_number"):
            return set()  # the common case costs one small request
        return {int(p.task) for p in self.sdk.predictions.list(project=project_id)}

    def project_summary(self, project_id: int) -> dict[str, Any]:
        """Task and annotation counts of a project (cheap; used by the sensor)."""
        project = self.get(f"/api/projects/{project_id}")
        keys = ("task_number", "total_annotations_number", "num_tasks_with_annotations", "total_predictions_number")
        return {k: project.get(k) for k in keys}


def admin_client(settings: Settings) -> LabelStudioClient:
    """The admin client of the Label Studio configured for these settings; raises if it is not running."""
    from annotation_ui.server import LabelStudioError, LabelStudioServer, credentials, is_ready

    server = LabelStudioServer.from_settings(settings)
    if not is_ready(server):
        raise LabelStudioError(f"Label Studio does not answer on {server.url}: run `sgm labelstudio start`")
    return LabelStudioClient(server.url, credentials(server).token)
