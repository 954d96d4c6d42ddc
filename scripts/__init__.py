"""Operator scripts run from the repository root against a deployed or local stack."""
