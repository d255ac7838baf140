"""Patient linking: registry import, name normalisation, study-to-patient matching, review."""

from emr_core.linking.linker import LinkReport, link_studies
from emr_core.linking.names import name_key, name_similarity
from emr_core.linking.registry import RegistryImportReport, import_registry
from emr_core.linking.review import ReviewItem, decide, review_queue

__all__ = [
    "LinkReport",
    "RegistryImportReport",
    "ReviewItem",
    "decide",
    "import_registry",
    "link_studies",
    "name_key",
    "name_similarity",
    "review_queue",
]
