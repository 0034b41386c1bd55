"""Batch evaluation runs: question sets, metrics, reports and the CI gate."""
