"""refsuite-distributed: units that run in every rank of a torchrun launch (collectives, DDP, DistributedSampler)."""
