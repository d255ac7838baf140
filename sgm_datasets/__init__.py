"""Training dataset versions: manifest, splits, export, stores, pull, MLflow logging (no Dagster, FastAPI, Click)."""
