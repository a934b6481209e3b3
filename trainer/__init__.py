"""Trainer: fine-tunes a ResNet50 on dermoscopy images and exports ONNX into the model repository."""
