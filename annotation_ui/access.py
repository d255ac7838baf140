"""The access policy of the reading gateway: may this reader make this Label Studio request? Pure, no I/O."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Never needed to read: assets, login, the reader's own account. Anything under these prefixes passes.
PUBLIC_PREFIXES = (
    "/static/",
    "/react-app/",
    "/label-studio-frontend/",
    "/dm/",
    "/favicon",
    "/user/login",
    "/user/logout",
    "/user/account",
    "/health",
    "/version",
    "/api/version",
    "/api/current-user/",
    "/_gateway/",
)

# (path pattern, methods or None for any, why a reader is refused). Checked before any project scope.
FORBIDDEN: tuple[tuple[re.Pattern[str], frozenset[str] | None, str], ...] = tuple(
    (re.compile(p), frozenset(m.split()) if m else None, why)
    for p, m, why in (
        (r"^/projects/\d+/(settings|export|import|ml|members)", "", "project settings are for the administrator"),
        (r"^/api/projects/?$", "POST PUT PATCH DELETE", "readers cannot create projects"),
        (r"^/api/projects/\d+/?$", "POST PUT PATCH DELETE", "project settings are for the administrator"),
        (r"^/api/projects/\d+/.+", "POST PUT PATCH DELETE", "project settings are for the administrator"),
        (
            r"^/api/projects/\d+/(exports?|imports?|reimports|ml|webhooks|duplicate|storages)",
            "",
            "exports and imports are for the administrator",
        ),
        (r"^/(organization|people|admin|django-rq|webhooks|models|data/upload)", "", "administration pages"),
        (r"^/api/(invite|storages|webhooks|jwt|import|model-provider|billing)", "", "administration API"),
        # the editor lists a project's ML backends; connecting or changing them is the administrator's
        (r"^/api/ml", "POST PUT PATCH DELETE", "administration API"),
        (r"^/api/(organizations|users)", "POST PUT PATCH DELETE", "administration API"),
        (r"^/api/dm/actions", "POST PUT PATCH DELETE", "bulk actions are for the administrator"),
        (r"^/api/tasks/?$", "POST PUT PATCH DELETE", "readers cannot create tasks"),
        (r"^/api/tasks/\d+/?$", "POST PUT PATCH DELETE", "readers cannot change tasks"),
        (r"^/api/annotations/\d+/?$", "DELETE", "reads are never deleted; submit a corrected read instead"),
        (r"^/api/predictions", "", "predictions are shown only inside a task"),
        (r"^/api/projects/\d+/export", "", "exports are for the administrator"),
    )
)

_PATH_IDS = (
    (re.compile(r"^/(?:api/)?projects/(\d+)(?:/|$)"), "project"),
    (re.compile(r"^/(?:api/)?tasks/(\d+)(?:/|$)"), "task"),
    (re.compile(r"^/api/annotations/(\d+)(?:/|$)"), "annotation"),
    (re.compile(r"^/api/drafts/(\d+)(?:/|$)"), "draft"),
)
_QUERY_IDS = {"project": "project", "task": "task", "taskID": "task", "annotation": "annotation", "draft": "draft"}
# Lists that span projects unless a project is named: refused without one (Label Studio would list them all).
_NEEDS_PROJECT = re.compile(r"^/api/(dm/|tasks/?$|ml)")
_TASK_OPEN = re.compile(r"^/api/tasks/(\d+)/?$")
# Where Label Studio serves the rendered images of the tasks (annotation_ui/campaigns.py builds these URLs).
LOCAL_FILES = "/data/local-files/"
MAX_DOCUMENT = 400  # our paths are "<long side>/<SOP instance UID>.png": a UID has at most 64 characters


@dataclass(frozen=True)
class Grants:
    """What one reader may open now: Label Studio project id -> may write there."""

    reader: str
    projects: Mapping[int, bool]
    # project -> the only tasks that may be opened there (a senior's view of first reads under review)
    only_tasks: Mapping[int, frozenset[int]] = field(default_factory=dict)
    read_only_tasks: frozenset[int] = frozenset()  # tasks whose read is under review: no more writes
    predictions: frozenset[int] = frozenset()  # projects whose tasks may show model predictions


@dataclass(frozen=True)
class Resolver:
    """Where ids live; supplied by the gateway (database and Label Studio lookups)."""

    task_project: Callable[[int], int | None]
    annotation_task: Callable[[int], int | None]
    draft_task: Callable[[int], int | None]
    # the Label Studio tasks whose images include this rendered file (a path under Label Studio's document root)
    file_tasks: Callable[[str], frozenset[int]] = lambda _document: frozenset()


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str
    opened_tasks: tuple[int, ...] = ()  # Label Studio task ids this request shows (audited as accessed)
    projects: tuple[int, ...] = field(default=())


def referenced_ids(path: str, query: str) -> dict[str, set[int]]:
    """Every project, task, annotation and draft id named by the path or the query string."""
    found: dict[str, set[int]] = {"project": set(), "task": set(), "annotation": set(), "draft": set()}
    for pattern, path_kind in _PATH_IDS:
        if match := pattern.match(path):
            found[path_kind].add(int(match.group(1)))
    for key, values in parse_qs(query, keep_blank_values=True).items():
        named = _QUERY_IDS.get(key) or ("project" if key == "ids" and path.startswith("/api/projects") else None)
        if named is None:
            continue
        kind = named
        for value in values:
            found[kind] |= {int(v) for v in value.split(",") if v.strip().isdigit()}
            if any(v.strip() and not v.strip().isdigit() for v in value.split(",")):
                found[kind].add(-1)  # an id we cannot read is an id we cannot allow
    return found


def _tasks_of(ids: dict[str, set[int]], resolve: Resolver) -> set[int | None]:
    """The tasks the referenced objects belong to (None for an annotation or draft we do not know)."""
    tasks: set[int | None] = set(ids["task"])
    tasks |= {resolve.annotation_task(a) for a in ids["annotation"]}
    tasks |= {resolve.draft_task(d) for d in ids["draft"]}
    return tasks


def _projects_of(ids: dict[str, set[int]], tasks: set[int | None], resolve: Resolver) -> set[int | None]:
    """The projects the referenced objects belong to (None for an object we do not know)."""
    projects: set[int | None] = set(ids["project"])
    projects |= {resolve.task_project(t) if t is not None else None for t in tasks}
    return projects


_PROJECT_DETAIL = re.compile(r"^/api/projects/\d+/?$")
# What Label Studio's Data Manager loads to open a task of a project; the task list itself is cut down to the
# tasks under review by the gateway (sgm_app/gateway/app.py), so a reviewer sees only those.
_REVIEW_LISTS = re.compile(
    r"^/api/(dm/views|dm/views/\d+|dm/columns|dm/project|dm/actions|ml|users|label_links|tasks"
    r"|projects/\d+/label-stream-history)/?$"
)


def _scope_refusal(grants: Grants, method: str, path: str, tasks: set[int | None], named: set[int | None]) -> str:
    """Why a request is refused by the reader's project and task grants ('' when it passes them)."""
    if any(p is None or p not in grants.projects for p in named):
        return "not one of your projects or tasks"
    projects = {p for p in named if p is not None}
    if method not in READ_METHODS and not all(grants.projects[p] for p in projects):
        return "you may look at this project but not submit in it"
    limited = [p for p in projects if p in grants.only_tasks]
    allowed = frozenset().union(*(grants.only_tasks[p] for p in limited))
    # the project itself (for the editor) only once one of its reads is under review
    detail = method in READ_METHODS and _PROJECT_DETAIL.match(path) is not None and bool(allowed)
    # the Data Manager's lists of one such project, so that a reviewer opens a read in the browser
    listing = method in READ_METHODS and _REVIEW_LISTS.match(path) is not None and bool(allowed) and not tasks
    outside = not tasks or any(t is None or t not in allowed for t in tasks)
    if limited and not (detail or (listing and len(named) == 1)) and outside:
        return "only the reads under review are open to you in this project"
    if method not in READ_METHODS and any(t in grants.read_only_tasks for t in tasks):
        return "this read is under senior review and can no longer be changed"
    return ""


def _refusal(raw: str, path: str, method: str) -> str | None:
    """Why a request is refused whatever the reader's assignments (None when nothing forbids it)."""
    if any(c in unquote(raw) for c in ("\\", "\x00")) or "%25" in raw:
        return "malformed path"  # no encoded encodings, backslashes or NULs
    for pattern, methods, why in FORBIDDEN:
        if pattern.match(path) and (methods is None or method in methods):
            return why
    return None


def normal_path(raw: str) -> str:
    """The path as Label Studio will route it: percent-decoded, slashes merged, dot segments resolved."""
    path = re.sub(r"/{2,}", "/", unquote(raw or "/"))
    normal = posixpath.normpath(path) if path != "/" else "/"
    return normal + "/" if path.endswith("/") and normal != "/" else normal


def names_local_files(uri: str) -> bool:
    """Label Studio routes "data/local-files/" found anywhere in a path, dot segments and all (a re_path without
    ^): such a request is an image request whatever else its path looks like, public prefixes included."""
    raw = uri.partition("?")[0].split("#", 1)[0]
    return "data/local-files" in unquote(raw)


def document_of(query: str) -> str | None:
    """The one rendered file a local-files request names, exactly as Label Studio would open it (None when the
    request names none, several, or one in any but its plain form: no dot segments, doubled or leading slashes)."""
    values = parse_qs(query, keep_blank_values=True).get("d", [])
    if len(values) != 1:
        return None  # Django would take the last of several: we take none
    document = values[0]
    if not document or len(document) > MAX_DOCUMENT or any(c in document for c in ("\\", "\x00", "%")):
        return None
    if document.startswith("/") or ".." in document.split("/") or posixpath.normpath(document) != document:
        return None
    return document


def _file_decision(grants: Grants, method: str, path: str, query: str, resolve: Resolver) -> Decision:
    """A rendered image passes when one of the tasks that show it could be opened by the reader now."""
    document = document_of(query) if method in READ_METHODS and path == LOCAL_FILES else None
    if document is None:
        return Decision(False, "malformed image request")
    for task in sorted(resolve.file_tasks(document)):
        project = resolve.task_project(task)
        if not _scope_refusal(grants, "GET", f"/api/tasks/{task}", {task}, {project}):
            return Decision(True, "image of an assigned task", (), (project,) if project is not None else ())
    return Decision(False, "not an image of your tasks")


def decide(grants: Grants, method: str, uri: str, resolve: Resolver) -> Decision:
    """Allow or refuse one request of a reader (never the administrator), with the reason."""
    raw, _, query = uri.partition("?")  # not urlsplit: "//host/x" is a path here, not a network location
    raw = raw.split("#", 1)[0]
    path, method = normal_path(raw if raw.startswith("/") else "/" + raw), method.upper()
    why = _refusal(raw, path, method)
    if why is None and names_local_files(uri):
        return _file_decision(grants, method, path, query, resolve)
    if why is None and path.startswith(PUBLIC_PREFIXES):
        return Decision(True, "public")
    if why:
        return Decision(False, why)
    ids = referenced_ids(path, query)
    if _NEEDS_PROJECT.match(path) and not ids["project"]:
        return Decision(False, "name the project of this list")
    tasks = _tasks_of(ids, resolve)
    projects = _projects_of(ids, tasks, resolve)
    if why := _scope_refusal(grants, method, path, tasks, projects):
        return Decision(False, why)
    opens = method == "GET" and (_TASK_OPEN.match(path) is not None or path.startswith("/projects/"))
    opened = tuple(sorted(ids["task"])) if opens else ()
    return Decision(True, "assigned", opened, tuple(sorted(p for p in projects if p is not None)))
