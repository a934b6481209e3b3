"""Training a network: the loop, its budget, weight averaging, mixes with the parent, phases, frozen features, DDP."""
