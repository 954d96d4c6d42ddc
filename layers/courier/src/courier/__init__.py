"""Courier: the serverless messaging backend (SMS pipeline, chat channel, daily statistics)."""
