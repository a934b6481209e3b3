"""Preprocessor service: decodes and checks streamed images, runs the model through inference, works the job queue."""
