"""Linking rules on hand-built studies: each hard case of real headers, on both backends."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.enums import LedgerStage, LinkMethod, LinkStatus
from emr_core.linking import decide, import_registry, link_studies
from emr_core.linking.linker import pending_query
from emr_core.models import LedgerEntry, LinkDecision, Patient, PatientIdentifier, Study

REGISTRY = """patient_id,issuer,full_name,birth_date,sex,accession_numbers
10000001,HIS,Nguyễn Thị Lan,1970-03-15,F,
10000002,HIS,Trần Thị Mai,1965-11-02,F,ACC2
10000003,HIS,Lê Ngọc Hương,1980-07-21,F,
10000004,HIS,Phạm Thị Hoa,1959-01-30,F,
10000005,HIS,Phạm Thị Hoa,1959-01-30,F,
10000006,HIS,Đặng Thu Thảo,1972-05-09,F,
"""


def load_registry(factory: sessionmaker[Session], tmp_path: Path, text: str = REGISTRY) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(text, encoding="utf-8")
    with session_scope(factory) as session:
        assert not import_registry(session, path).errors


def add_study(
    factory: sessionmaker[Session],
    uid: str,
    pid: str,
    issuer: str,
    name: str,
    born: date | None,
    accession: str = "",
    sex: str = "F",
) -> None:
    """A study as DICOM ingest leaves it: header columns and the `received` ledger stage."""
    with session_scope(factory) as session:
        study = Study(
            study_uid=uid,
            accession_number=accession,
            dicom_patient_id=pid,
            dicom_issuer=issuer,
            dicom_patient_name=name,
            dicom_birth_date=born,
            dicom_sex=sex,
        )
        session.add(study)
        session.flush()
        session.add(LedgerEntry(study_id=study.id, stage=LedgerStage.RECEIVED.value))


def registry_id(session: Session, value: str) -> int:
    return session.scalars(
        select(PatientIdentifier.patient_id).where(PatientIdentifier.value == value, PatientIdentifier.issuer == "HIS")
    ).one()


def current(session: Session, uid: str) -> tuple[Study, LinkDecision]:
    study = session.scalars(select(Study).where(Study.study_uid == uid)).one()
    decision = session.scalars(
        select(LinkDecision).where(LinkDecision.study_id == study.id, LinkDecision.is_current.is_(True))
    ).one()
    return study, decision


AUTO_CASES = [
    # uid, pid, issuer, name, birth date, accession, expected registry id, method
    ("1.1", "10000001", "HIS", "Nguyễn^Lan^Thị", date(1970, 3, 15), "", "10000001", "identifier"),
    ("1.2", "MG0000002", "PACS_MG", "Lan^Nguyen Thi", date(1970, 3, 15), "", "10000001", "demographics"),
    ("1.3", "MG0000006", "PACS_MG", "Dang^Thap^Thu", date(1972, 5, 9), "", "10000006", "demographics"),
    ("1.4", "10000003", "", "LE^HUONG^NGOC", date(1980, 7, 21), "", "10000003", "identifier"),
    ("1.5", "MG0000009", "PACS_MG", "TRAN^MAI^THI", date(1965, 11, 2), "ACC2", "10000002", "accession"),
]


@pytest.mark.parametrize("case", AUTO_CASES, ids=["exact", "swapped-ascii", "typo", "no-issuer", "local-id+accession"])
def test_auto_links(session_factory: sessionmaker[Session], tmp_path: Path, case: tuple) -> None:
    uid, pid, issuer, name, born, accession, expected, method = case
    load_registry(session_factory, tmp_path)
    add_study(session_factory, uid, pid, issuer, name, born, accession)
    report = link_studies(session_factory)
    assert report.linked == {method: 1}
    with session_scope(session_factory) as session:
        study, decision = current(session, uid)
        assert study.patient_id == decision.patient_id == registry_id(session, expected)
        assert (decision.method, decision.status) == (method, LinkStatus.AUTO.value)
        assert decision.evidence["header"]["name"] == name
        assert decision.evidence["candidates"][0]["patient_id"] == study.patient_id
        assert 0.85 <= decision.score <= 1.0
        assert (
            session.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.study_id == study.id, LedgerEntry.stage == "linked")
            )
            == 1
        )


def test_missing_issuer_weaker_than_exact_identifier(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    load_registry(session_factory, tmp_path)
    add_study(session_factory, "2.1", "10000003", "HIS", "Le^Huong^Ngoc", date(1980, 7, 21))
    add_study(session_factory, "2.2", "10000003", "", "Le^Huong^Ngoc", date(1980, 7, 21))
    # Same issuer-less value, but the demographics belong to someone else: not used.
    add_study(session_factory, "2.3", "10000003", "", "Vo^Yen^Thi", date(1991, 2, 3))
    link_studies(session_factory)
    with session_scope(session_factory) as session:
        (s1, d1), (s2, d2), (s3, d3) = (current(session, u) for u in ("2.1", "2.2", "2.3"))
        assert s1.patient_id == s2.patient_id and d1.score > d2.score
        assert d3.method == LinkMethod.PROVISIONAL.value and s3.patient_id != s1.patient_id
        assert any("demographics differ" in r for r in d3.evidence["reasons"])


REVIEW_CASES = [
    ("3.1", "10000001", "HIS", "Nguyen^Lan^Thi", date(1971, 3, 15), "", "birth date differs"),
    ("3.2", "MG0000004", "PACS_MG", "Pham^Hoa^Thi", date(1959, 1, 30), "", "share this name and birth date"),
    ("3.3", "10000001", "HIS", "Tran^Mai^Thi", date(1970, 3, 15), "ACC2", "different patients"),
]


@pytest.mark.parametrize("case", REVIEW_CASES, ids=["same-id-other-dob", "twins", "id-vs-accession"])
def test_conflicts_go_to_review_unlinked(session_factory: sessionmaker[Session], tmp_path: Path, case: tuple) -> None:
    uid, pid, issuer, name, born, accession, reason = case
    load_registry(session_factory, tmp_path)
    add_study(session_factory, uid, pid, issuer, name, born, accession)
    report = link_studies(session_factory)
    assert report.review == 1 and report.total_linked == 0
    with session_scope(session_factory) as session:
        study, decision = current(session, uid)
        assert study.patient_id is None and decision.patient_id is None
        assert decision.status == LinkStatus.REVIEW.value
        assert any(reason in r for r in decision.evidence["reasons"]), decision.evidence["reasons"]
        assert len(decision.evidence["candidates"]) >= 2 or "birth date" in reason
        assert all("score" in c for c in decision.evidence["candidates"])
        assert not session.scalars(
            select(LedgerEntry).where(LedgerEntry.study_id == study.id, LedgerEntry.stage == "linked")
        ).first()


def test_unmatched_header_gets_one_provisional_patient(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    load_registry(session_factory, tmp_path)
    add_study(session_factory, "4.1", "MG0000077", "PACS_MG", "Vo^Yen^Thi", date(1990, 4, 5))
    add_study(session_factory, "4.2", "MG0000077", "PACS_MG", "VO^YEN^THI", date(1990, 4, 5))
    first = link_studies(session_factory)
    add_study(session_factory, "4.3", "MG0000077", "", "Vo^Yen^Thi", date(1990, 4, 5))
    second = link_studies(session_factory)
    assert first.provisional_patients == 1 and second.provisional_patients == 0
    with session_scope(session_factory) as session:
        studies = [current(session, u)[0] for u in ("4.1", "4.2", "4.3")]
        assert len({s.patient_id for s in studies}) == 1
        patient = session.get(Patient, studies[0].patient_id)
        assert patient is not None and patient.provisional and patient.name_key == "thi vo yen"
        assert session.scalars(
            select(PatientIdentifier.issuer).where(PatientIdentifier.patient_id == patient.id)
        ).all() == ["PACS_MG"]


def test_rerun_changes_nothing_and_one_current_decision(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    load_registry(session_factory, tmp_path)
    for uid, pid, issuer, name, born, accession, *_ in AUTO_CASES + REVIEW_CASES:
        add_study(session_factory, uid, pid, issuer, name, born, accession)
    add_study(session_factory, "4.1", "MG0000077", "PACS_MG", "Vo^Yen^Thi", date(1990, 4, 5))
    first = link_studies(session_factory)
    assert first.examined == 9 and first.review == 3
    with session_scope(session_factory) as session:
        before = session.scalar(select(func.count()).select_from(LinkDecision))
    pending, everything = link_studies(session_factory), link_studies(session_factory, only_pending=False)
    assert (pending.examined, pending.unchanged) == (3, 3)
    assert everything.unchanged == everything.examined == 9
    with session_scope(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(LinkDecision)) == before
        per_study = session.execute(
            select(LinkDecision.study_id, func.count())
            .where(LinkDecision.is_current.is_(True))
            .group_by(LinkDecision.study_id)
        ).all()
        assert len(per_study) == 9 and {n for _, n in per_study} == {1}


def test_manual_decision_survives_reruns(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    load_registry(session_factory, tmp_path)
    add_study(session_factory, "5.1", "MG0000004", "PACS_MG", "Pham^Hoa^Thi", date(1959, 1, 30))
    link_studies(session_factory)
    with session_scope(session_factory) as session:
        twin = registry_id(session, "10000005")
        decide(session, "5.1", twin, decided_by="dr.an")
    for only_pending in (True, False):
        assert link_studies(session_factory, only_pending=only_pending).examined == 0
    with session_scope(session_factory) as session:
        study, decision = current(session, "5.1")
        assert study.patient_id == decision.patient_id == twin
        assert (decision.status, decision.decided_by) == ("manual", "dr.an")
        assert session.scalar(select(func.count()).select_from(LinkDecision)) == 2


def test_review_reopens_when_its_inputs_change(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    load_registry(session_factory, tmp_path)
    add_study(session_factory, "6.1", "MG0000004", "PACS_MG", "Pham^Hoa^Thi", date(1959, 1, 30))
    assert link_studies(session_factory).review == 1
    # The registry corrects the second Phạm Thị Hoa's birth date: no longer ambiguous.
    load_registry(
        session_factory,
        tmp_path,
        REGISTRY.replace("10000005,HIS,Phạm Thị Hoa,1959-01-30", "10000005,HIS,Phạm Thị Hoa,1961-06-30"),
    )
    report = link_studies(session_factory)
    assert report.linked == {"demographics": 1}
    with session_scope(session_factory) as session:
        study, _decision = current(session, "6.1")
        assert study.patient_id == registry_id(session, "10000004")


def test_sex_contradiction_blocks_identifier_link(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    load_registry(session_factory, tmp_path)
    add_study(session_factory, "7.1", "10000006", "HIS", "Dang^Thao^Thu", date(1972, 5, 9), sex="M")
    assert link_studies(session_factory).review == 1


def test_a_review_is_remade_when_a_later_study_of_the_run_creates_a_candidate(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Reviews are decided after the run's provisional patients exist, but re-made only when one of them is in
    the study's blocks: here the second study's new patient shares the first one's name."""
    load_registry(session_factory, tmp_path)
    add_study(session_factory, "8.1", "", "", "Pham^Hoa^Thi", None)  # no birth date: every Phạm Thị Hoa is close
    add_study(session_factory, "8.2", "MG0000099", "PACS_MG", "Pham^Hoa^Thi", date(1975, 3, 3))  # nobody known
    report = link_studies(session_factory)
    assert report.provisional_patients == 1 and report.review == 1
    with session_scope(session_factory) as session:
        newcomer = current(session, "8.2")[0].patient_id
        _study, decision = current(session, "8.1")
        shown = {c["patient_id"] for c in decision.evidence["candidates"]}
        assert decision.status == "review" and newcomer in shown
        assert {registry_id(session, "10000004"), registry_id(session, "10000005")} <= shown
    assert link_studies(session_factory).unchanged == 1


def test_the_pending_studies_are_found_through_the_patient_index(session_factory: sessionmaker[Session]) -> None:
    """The nightly run's pending query asks the studies' patient_id index, not every study of the archive."""
    engine = session_factory.kw["bind"]
    sql = str(pending_query(only_pending=True).compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SEARCH studies USING INDEX ix_studies_patient_id" in plan, plan
        else:
            rows = conn.exec_driver_sql(f"EXPLAIN {sql}").mappings().all()
            studies = next(row for row in rows if row["table"] == "studies")
            assert studies["key"] == "ix_studies_patient_id", rows
