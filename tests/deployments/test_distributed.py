"""Dagster beyond one process: instance storage on MariaDB, ingest-and-link steps on two celery workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml
from sqlalchemy import make_url, text

from emr_core.db import make_engine, make_session_factory, session_scope
from emr_core.linking.registry import import_registry
from emr_core.migrate import upgrade
from emr_core.settings import Settings
from emr_core.status import platform_status
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from tests.conftest import MARIADB_SERVER, require_peer

REDIS_URL = os.environ.get("SGM_TEST_REDIS", "redis://127.0.0.1:6379/0")
WORKER_START_SECONDS = 90

pytestmark = [
    pytest.mark.slow,
    pytest.mark.mariadb,
    # dagster-celery registers its task once per executor instance; celery warns about the second.
    pytest.mark.filterwarnings("ignore:Task name 'execute_plan' is already registered"),
]


def _mariadb_database(token: str) -> Iterator[str]:
    """A fresh database on the MariaDB server, dropped afterwards; yields its URL."""
    server = make_engine(MARIADB_SERVER)
    name = f"sgm_dist_{token}"
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    except Exception as exc:
        require_peer(False, f"MariaDB not reachable at {MARIADB_SERVER}: {exc}")
    try:
        yield f"{MARIADB_SERVER}/{name}"
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def dagster_db(token: str) -> Iterator[str]:
    yield from _mariadb_database(f"dagster_{token}")


@pytest.fixture
def emr_db(token: str) -> Iterator[str]:
    yield from _mariadb_database(f"emr_{token}")


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def _write_dagster_home(home: Path, storage_url: str) -> None:
    """dagster.yaml keeping runs, events and schedules in MariaDB through dagster-mysql."""
    url = make_url(storage_url)
    mysql_db = {
        "username": url.username or "root",
        "password": url.password or "",
        "hostname": url.host or "127.0.0.1",
        "port": url.port or 3306,
        "db_name": url.database,
    }
    config = {"storage": {"mysql": {"mysql_db": mysql_db}}, "telemetry": {"enabled": False}}
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    # Create the schema once, before any worker: concurrent first starts race on CREATE TABLE
    # (in the containers a one-shot `dagster instance migrate` service plays this part).
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)
        instance.event_log_storage.get_event_records(dg.EventRecordsFilter(dg.DagsterEventType.RUN_SUCCESS), limit=1)
        instance.all_instigator_state()


@dataclass
class Workers:
    """Two `dagster-celery worker start` processes, each in its own process group."""

    names: list[str]
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def tail(self, lines: int = 15) -> str:
        return "\n".join("\n".join(log.read_text(errors="replace").splitlines()[-lines:]) for log in self.logs)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # celery's warm shutdown, for the CLI and its child
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _start_workers(config_yaml: Path, queue: str, env: dict[str, str], logs: Path) -> Workers:
    cli = str(Path(sys.executable).with_name("dagster-celery"))
    names, processes, paths = [], [], []
    for index in (1, 2):
        name = f"{queue}-w{index}"
        paths.append(logs / f"{name}.log")
        log = paths[-1].open("wb")
        args = [cli, "worker", "start", "-A", "dagster_celery.app", "-y", str(config_yaml)]
        # The solo pool runs tasks in the worker's main process: ingest and rendering start process
        # pools of their own, which a (daemonic) prefork child may not do.
        args += ["-n", name, "-q", queue, "--", "-c", "1", "--pool", "solo"]
        processes.append(subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        names.append(name)
    return Workers(names, processes, paths)


PING = """
import json, sys
from celery import Celery
app = Celery("sgm-test-ping", broker=sys.argv[1])
try:
    print(json.dumps([host for reply in app.control.ping(timeout=1.0) or [] for host in reply]))
finally:
    app.close()
"""


def _answering(broker: str) -> set[str]:
    """Worker names answering a ping, asked from a process of its own (no broker connection lives here)."""
    done = subprocess.run([sys.executable, "-c", PING, broker], check=False, capture_output=True, text=True, timeout=60)
    hosts = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else []
    return {host.split("@")[0] for host in hosts}


def _wait_until_ready(workers: Workers, broker: str) -> None:
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline:
        for proc in workers.processes:
            if proc.poll() is not None:
                pytest.fail(f"a celery worker exited at start:\n{workers.tail()}")
        if set(workers.names) <= _answering(broker):
            return
        time.sleep(1)
    pytest.fail(f"celery workers did not answer a ping within {WORKER_START_SECONDS} s:\n{workers.tail()}")


def _prepare_corpus(tmp_path: Path, settings: Settings) -> int:
    """Generate mammograms and the registry they link against; returns the number of studies."""
    corpus = tmp_path / "corpus"
    summary = generate_corpus(corpus, CorpusOptions(patients=4, seed=11, columns=64, rows=80, prior_fraction=0.5))
    engine = make_engine(settings.url)
    try:
        upgrade(engine)
        with session_scope(make_session_factory(engine)) as session:
            import_registry(session, corpus / "registry.csv")
    finally:
        engine.dispose()
    shutil.copytree(corpus / "dicom", settings.incoming_dir)
    return summary.studies


def _celery_hosts(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Step key -> the celery worker that executed it, from the engine events the worker logs."""
    hosts: dict[str, str] = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        metadata = event.engine_event_data.metadata if event and event.engine_event_data else {}
        if "Celery worker" in metadata and event is not None and event.step_key:
            hosts[event.step_key] = str(metadata["Celery worker"].value)
    return hosts


LAUNCH = """
import json, sys
import dagster as dg
from orchestration.distributed import reconstructable_ingest_and_link_job
home, run_config = sys.argv[1], json.loads(sys.argv[2])
with dg.DagsterInstance.from_config(home) as instance:
    with dg.execute_job(reconstructable_ingest_and_link_job(), instance, run_config=run_config) as result:
        print(result.run_id)
        failures = [e.message for e in result.all_events if e.is_failure]
        sys.exit(0 if result.success else f"run failed: {failures}")
"""


def _launch_in_subprocess(dagster_home: Path, run_config: Mapping[str, object]) -> str:
    """Run the job from a process of its own: celery's broker connections (kombu pools, with after-fork
    hooks that block on Redis) must not live in the test process, which forks worker pools later."""
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(dagster_home), json.dumps(run_config)],
        check=False, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_ingest_and_link_runs_on_two_celery_workers_with_mariadb_storage(
    tmp_path: Path, token: str, dagster_db: str, emr_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_peer(_redis_answers(), f"Redis not reachable at {REDIS_URL}")
    settings = Settings(home=tmp_path / "sgm", database_url=emr_db)
    studies = _prepare_corpus(tmp_path, settings)

    dagster_home = tmp_path / "dagster_home"
    _write_dagster_home(dagster_home, dagster_db)
    queue = f"sgm-{token}"  # a queue of our own: other runs on the same Redis never take our steps
    celery = {"broker": REDIS_URL, "backend": REDIS_URL, "config_source": {"task_default_queue": queue}}
    run_config = {"execution": {"config": celery}}
    config_yaml = tmp_path / "celery.yaml"
    config_yaml.write_text(yaml.safe_dump(run_config))

    env = {"DAGSTER_HOME": str(dagster_home), "SGM_HOME": str(settings.home), "SGM_DATABASE_URL": emr_db}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    worker_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    workers = _start_workers(config_yaml, queue, worker_env, tmp_path)
    try:
        _wait_until_ready(workers, REDIS_URL)
        from orchestration.distributed import celery_run_config

        assert celery_run_config(REDIS_URL, REDIS_URL, queue) == run_config
        run_id = _launch_in_subprocess(dagster_home, run_config)
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            assert type(instance.run_storage).__name__ == "MySQLRunStorage"
            assert type(instance.event_log_storage).__name__ == "MySQLEventLogStorage"
            assert type(instance.schedule_storage).__name__ == "MySQLScheduleStorage"
            hosts = _celery_hosts(instance, run_id)
            stored_run = instance.get_run_by_id(run_id)
            # The pools that cap PACS retrievals and rendering are kept in the same MariaDB storage.
            instance.event_log_storage.set_concurrency_slots("pacs", 2)
            pacs_slots = instance.event_log_storage.get_concurrency_info("pacs").slot_count
    finally:
        workers.stop()

    assert stored_run is not None and stored_run.status == dg.DagsterRunStatus.SUCCESS
    assert set(hosts) >= {"dicom_instances", "linked_studies"}, hosts
    used = {host.split("@")[0] for host in hosts.values()}
    assert used == set(workers.names), f"steps did not spread over both workers: {hosts}"
    assert all(proc.returncode is not None for proc in workers.processes)

    assert pacs_slots == 2
    with dg.DagsterInstance.from_config(str(dagster_home)) as reopened:  # a second process sees the same run
        assert reopened.get_run_by_id(run_id) is not None
        assert reopened.event_log_storage.get_concurrency_info("pacs").slot_count == 2
    with session_scope(make_session_factory(make_engine(emr_db))) as session:
        status = platform_status(session)
    assert status.studies == studies
    assert status.unlinked_studies == status.review_queue
    assert status.studies - status.unlinked_studies > 0, "no study was linked to a registry patient"
