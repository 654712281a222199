"""Instructor and contributor tooling: release, grading checks, benchmark (not used by learners)."""
