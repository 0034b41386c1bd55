"""The methodology assistant: grounded, cited answers about DevOps, MLOps, ModelOps and DataOps."""

__version__ = "0.1.0"
