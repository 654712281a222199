"""Helpers for the hands-on MLOps course.

One module per lifecycle stage; importing this package has no side effects
(no folders created, no seeds set, no tracking URI changed). Notebooks import
what they need explicitly, e.g. ``from course_lib.workspace import open_workspace``.
"""

__version__ = "0.1.0"
