"""Errors of the image phase.  Each names the value that failed and what to do about it."""

from __future__ import annotations

from toolkit.exception import Error, NotFoundError


class ImageError(Error):
    """Something about an image build or push failed."""


class MissingLocalPathError(NotFoundError, ImageError):
    """An ``add_local_*`` step names a file, directory or module that is not there."""


class BaseImageNotFoundError(NotFoundError, ImageError):
    """The base image reference is unknown to the local store and to its registry."""


class BuilderUnavailableError(ImageError):
    """The requested builder (podman, docker, codebuild) cannot be used on this machine."""


class RegistryError(ImageError):
    """The registry refused a request, or none is configured."""


class BuildFailedError(ImageError):
    """A build step failed.  ``step`` is the Containerfile instruction, ``output`` its log tail."""

    def __init__(self, image: str, step: str | None, output: str, builder: str) -> None:
        self.image, self.step, self.output, self.builder = image, step, output, builder
        where = f"at step {step!r}" if step else "before any step ran"
        super().__init__(f"{builder} build of {image} failed {where}:\n{output.rstrip()}")
