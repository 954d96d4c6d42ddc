"""The SMS pipeline: job contract, producer, sender, providers and delivery receipts."""
