"""The error every refused or failed bundle raises: it names the file and the problem."""

from __future__ import annotations

from app.core.errors import TagloopError


class BundleError(TagloopError):
    """A bundle cannot be written, opened or merged; nothing was changed."""

    def __init__(self, file: str, problem: str) -> None:
        self.file = str(file)
        self.problem = problem
        super().__init__(f"{self.file}: {problem}" if self.file else problem)

    def located(self, file: str) -> BundleError:
        """The same error, naming `file` if it named none."""
        return self if self.file else BundleError(file, self.problem)
