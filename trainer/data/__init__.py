"""The images a run learns from: sources, splits, decoding, augmentation, the gate's negatives."""
