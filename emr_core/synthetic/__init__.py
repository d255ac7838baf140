"""Deterministic synthetic mammography corpus (DICOM MG, hospital registry, ground truth)."""

from emr_core.synthetic.corpus import CorpusOptions, CorpusSummary, generate_corpus

__all__ = ["CorpusOptions", "CorpusSummary", "generate_corpus"]
