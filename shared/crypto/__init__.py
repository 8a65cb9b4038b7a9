"""Encryption of backups in the age v1 format, and the service's keys."""
