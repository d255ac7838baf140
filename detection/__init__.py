"""Lesion detection on mammograms: the model contract, baseline detector, inference and feedback metrics."""
