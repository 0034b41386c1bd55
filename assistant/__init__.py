"""The methodology assistant: grounded, cited answers from a corpus of documents (the subject: domain.py)."""

__version__ = "0.1.0"
