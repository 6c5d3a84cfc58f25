"""Helpers shared by the Azure Storage adapters (private)."""
