"""The one place that talks HTTP to Label Studio: the label-studio-sdk 2.x client plus the endpoints it lacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import requests
from label_studio_sdk import LabelStudio

from emr_core.settings import Settings

TIMEOUT = 120.0  # seconds; exports of large projects take a while
FORM_TIMEOUT = 30.0
# What a call raises when Label Studio is down or refuses: callers catch this, never import requests.
RequestError = requests.RequestException


class SignupRefusedError(ValueError):
    """Label Studio did not accept a signup form (address invalid or already registered)."""


def is_up(url: str) -> bool:
    """True when a Label Studio answers its health check at this URL."""
    try:
        return bool(requests.get(f"{url}/health", timeout=2).json().get("status") == "UP")
    except (requests.RequestException, ValueError):
        return False


def signup(url: str, invite_token: str, email: str, password: str) -> str:
    """Fill in the signup form (with CSRF) as the new user would; returns their personal API token."""
    http = requests.Session()
    form_url = f"{url}/user/signup/?token={invite_token}"
    http.get(form_url, timeout=FORM_TIMEOUT).raise_for_status()
    response = http.post(
        form_url,
        timeout=FORM_TIMEOUT,
        allow_redirects=False,
        headers={"Referer": form_url},
        data={
            "csrfmiddlewaretoken": http.cookies.get("csrftoken", ""),
            "email": email,
            "password": password,
            "allow_newsletters": "false",
        },
    )
    if response.status_code != 302:
        raise SignupRefusedError(f"Label Studio refused the signup of {email} (HTTP {response.status_code})")
    token = http.get(f"{url}/api/current-user/token", timeout=FORM_TIMEOUT).json()["token"]
    return str(token)


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
        return dict(self.get("/api/current-user/whoami"))

    def user_emails(self) -> set[str]:
        """Email addresses of every Label Studio account (lower case)."""
        return {str(u.get("email", "")).lower() for u in self.get("/api/users/")}

    def invite_token(self) -> str:
        """The organisation's invite token: signup is closed without it."""
        return str(self.get("/api/invite")["token"])

    def task_data(self, task_id: int) -> dict[str, Any]:
        """The data fields of one task (image URLs, side, our task reference)."""
        return dict(self.get(f"/api/tasks/{task_id}")["data"])

    def ensure_view(self, project_id: int) -> int:
        """A Data Manager tab of the project (its first, or a new default one); returns its id."""
        views = self.get("/api/dm/views/", project=project_id)
        if views:
            return int(views[0]["id"])
        tab = {"title": "Default", "type": "list", "target": "tasks", "filters": {"conjunction": "and", "items": []}}
        return int(self.post("/api/dm/views/", {"project": project_id, "data": tab})["id"])

    def task_annotations(self, task_id: int) -> list[dict[str, Any]]:
        """Every annotation of one task (as this user may see them)."""
        return list(self.get(f"/api/tasks/{task_id}/annotations"))

    def create_project(self, title: str, label_config: str, **options: Any) -> int:
        """A project; options are Label Studio project fields (maximum_annotations, ...)."""
        return _id(self.sdk.projects.create(title=title, label_config=label_config, **options).id)

    def delete_project(self, project_id: int) -> None:
        self.sdk.projects.delete(id=project_id)

    def add_local_storage(self, project_id: int, path: str) -> int:
        """Allow the project to serve images from a folder under the document root."""
        storage = self.sdk.import_storage.local.create(
            project=project_id, path=path, use_blob_urls=False, regex_filter=r".*\.json$", title="rendered images"
        )
        return _id(storage.id)

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks in the given order; returns their ids in that order."""
        # The SDK types tasks as ImportApiRequest models and its response without `task_ids`, which
        # the server sends for return_task_ids: both are plain JSON here.
        response: Any = self.sdk.projects.import_tasks(id=project_id, request=cast(Any, tasks), return_task_ids=True)
        return [int(t) for t in response.task_ids or []]

    def create_annotation(self, task_id: int, result: list[dict[str, Any]]) -> int:
        return _id(self.sdk.annotations.create(id=task_id, result=result).id)

    def update_annotation(self, annotation_id: int, result: list[dict[str, Any]]) -> None:
        self.sdk.annotations.update(id=annotation_id, result=result)

    def create_prediction(
        self, task_id: int, result: list[dict[str, Any]], model_version: str, score: float | None = None
    ) -> int:
        created = self.sdk.predictions.create(task=task_id, result=result, model_version=model_version, score=score)
        return _id(created.id)

    def prediction_versions(self, project_id: int) -> dict[int, set[str]]:
        """Task id -> the model versions of the predictions it carries, for one project."""
        found: dict[int, set[str]] = {}
        for p in self.sdk.predictions.list(project=project_id):
            found.setdefault(int(p.task), set()).add(str(p.model_version or ""))
        return found

    def update_project(self, project_id: int, **options: Any) -> dict[str, Any]:
        """Change project fields (show_collab_predictions, model_version, ...); returns the project as stored."""
        response = self._http.patch(f"{self.url}/api/projects/{project_id}", json=options, timeout=TIMEOUT)
        response.raise_for_status()
        return dict(response.json())

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


def _id(value: int | None) -> int:
    """The id Label Studio assigned; the SDK's models type it as optional."""
    if value is None:
        raise RuntimeError("Label Studio returned an object without an id")
    return int(value)


def admin_client(settings: Settings) -> LabelStudioClient:
    """The admin client: SGM_LABEL_STUDIO_URL/TOKEN when both are set, else the server `sgm labelstudio start` runs."""
    from annotation_ui.server import LabelStudioError, LabelStudioServer, credentials

    if settings.label_studio_url and settings.label_studio_token:
        return LabelStudioClient(settings.label_studio_url, settings.label_studio_token)
    server = LabelStudioServer.from_settings(settings)
    if not is_up(server.url):
        raise LabelStudioError(f"Label Studio does not answer on {server.url}: run `sgm labelstudio start`")
    return LabelStudioClient(server.url, credentials(server).token)
