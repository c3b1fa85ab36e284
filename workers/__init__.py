"""The workers: model registry, targeted synthetic data generator, cautious fine-tuning."""
