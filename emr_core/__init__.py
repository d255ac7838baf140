"""EMR domain: patients, DICOM index, linking, processing ledger. Plain Python, no Dagster."""
