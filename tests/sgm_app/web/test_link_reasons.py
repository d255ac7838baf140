"""The linker's reasons reach the review page in the reader's language, parameters and nesting included."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from emr_core.db import session_scope
from emr_core.dicom.ingest import ingest_paths
from emr_core.linking import import_registry, link_studies, review_queue
from emr_core.settings import Settings
from emr_core.synthetic.corpus import CorpusOptions, generate_corpus
from sgm_app.web.i18n import translations
from sgm_app.web.link_reasons import date_match, dicom_person_name, link_reason, link_via

# Every shape of reason emr_core.linking.scoring writes, as it writes them.
STORED = [
    "sex differs",
    "birth date differs (near)",
    "name differs (similarity 0.41)",
    "identifier 10000007 exists under 2 issuers",
    "identifier 10000007 known under issuer 'HIS' but demographics differ "
    "(birth date differs (different); sex differs): ignored",
    "identifier and accession point to different patients",
    "identifier_without_issuer match but birth date differs (near)",
    "accession match but name differs (similarity 0.30)",
    "no registry patient matches",
    "patients share this name and birth date",
    "two candidates close in score",
    "candidate has another identifier under issuer 'HIS'",
    "best candidate not conclusive (birth date near, name similarity 0.93, sex agrees True)",
]


def _vi(message: str, **values: object) -> str:
    text = translations("vi").gettext(message)
    return text % values if values else text


def test_every_reason_shape_is_translated_with_its_parameters() -> None:
    shown = {reason: link_reason(reason, _vi) for reason in STORED}
    assert all(shown[r] != r for r in STORED), [r for r in STORED if shown[r] == r]
    assert shown["birth date differs (near)"] == "ngày sinh khác (gần giống (có thể gõ nhầm))"
    nested = shown["identifier_without_issuer match but birth date differs (near)"]
    assert nested.startswith("khớp theo mã định danh không rõ nơi cấp nhưng ngày sinh khác")
    inner = shown[STORED[4]]
    assert "10000007" in inner and "'HIS'" in inner and "giới tính khác" in inner and "sex differs" not in inner
    assert "0.93" in shown[STORED[-1]] and ": có)" in shown[STORED[-1]]
    # English pages show the stored words (routes as words), and an unknown reason is shown as stored.
    english = translations("en").gettext
    in_english = [link_reason(r, lambda m, **v: english(m) % v if v else english(m)) for r in STORED]
    as_words = {
        6: "identifier without issuer match but birth date differs (near)",
        7: "accession number match but name differs (similarity 0.30)",
        12: "best candidate not conclusive (birth date near, name similarity 0.93, sex agrees yes)",
    }
    assert in_english == [as_words.get(i, r) for i, r in enumerate(STORED)]
    assert link_reason("a reason from a newer linker", _vi) == "a reason from a newer linker"


def test_routes_date_matches_and_dicom_names_read_as_words() -> None:
    assert link_via("accession", _vi) == "số tiếp nhận" and link_via("other", _vi) == "other"
    assert date_match("exact", _vi) == "trùng khớp"
    assert dicom_person_name("NGUYEN^THI^^LAN") == "NGUYEN THI LAN" and dicom_person_name(None) == ""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    generate_corpus(tmp_path / "corpus", CorpusOptions(patients=60, registry_extra=40, columns=64, rows=80, seed=3))
    return tmp_path / "corpus"


def test_the_reasons_of_a_real_review_queue_are_all_translated(
    session_factory: sessionmaker[Session], settings: Settings, corpus: Path
) -> None:
    with session_scope(session_factory) as session:
        import_registry(session, corpus / "registry.csv")
    ingest_paths(session_factory, settings, [corpus / "dicom"])
    link_studies(session_factory)
    with session_scope(session_factory) as session:
        reasons = [reason for item in review_queue(session) for reason in item.reasons]
    assert reasons
    assert [r for r in reasons if link_reason(r, _vi) == r] == []
