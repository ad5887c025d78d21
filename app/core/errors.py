"""Errors a user can act on. Each says which file, which line, and what is wrong."""

from __future__ import annotations


class TagloopError(Exception):
    """Base for every error that is shown to the user as a message, never a traceback."""


class ProjectError(TagloopError):
    """A project file cannot be created, opened or changed as asked."""


class DataError(TagloopError):
    """A problem in an input file, located by file and line."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: {problem}")


class UnknownLabelsError(DataError):
    """Labels in a label column that the schema does not have (they can be added on request)."""

    def __init__(self, file: str, line: int, labels: list[str]) -> None:
        self.labels = labels
        shown = ", ".join(repr(label) for label in labels[:10])
        more = f" and {len(labels) - 10} more" if len(labels) > 10 else ""
        super().__init__(
            file,
            line,
            f"label {shown}{more} not in the label schema "
            "(add them to the schema with --add-labels, or fix the file)",
        )


class Cancelled(TagloopError):
    """The user cancelled a long job; nothing was changed."""

    def __init__(self) -> None:
        super().__init__("cancelled; nothing was changed")
