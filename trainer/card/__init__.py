"""What a version says of itself: the model card, its sections and plots, the curve page, the trials."""
