"""Scores of reconstructions: image quality, labels, matching for batches."""
