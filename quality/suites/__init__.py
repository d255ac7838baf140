"""The quality suites: images, linking, findings and the dataset manifest."""
