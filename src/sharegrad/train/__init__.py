"""Distributed training for the DTS experiments: trainer (torchrun entry), data shards,
models, checkpoints, and a single-process reference that simulates N workers."""
