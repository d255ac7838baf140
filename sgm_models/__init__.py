"""Models in the loop: training on dataset versions, the MLflow registry, inference, pre-annotations, feedback."""
