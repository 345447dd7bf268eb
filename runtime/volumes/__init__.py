"""Volumes: named, persistent directories shared by every function of an app (and by the CLI).

Two stores behind one interface (`runtime.volumes.base.VolumeStore`):

* `runtime.volumes.local.LocalVolumeStore` -- a directory per volume under ``$TOOLKIT_HOME/volumes``.
  Live: a write is visible to every local process at once, so ``commit``/``reload`` have nothing
  to do (docs/volumes.md says why that is safe for programs written for the platform's rules).
* `runtime.volumes.s3.S3VolumeStore` -- a deployed app's volume bucket, one prefix per volume;
  a container works on a copy under ``/tmp`` that ``reload`` pulls and ``commit`` pushes.

`runtime.volumes.mounts` is the container side: mount at start (reload, then a link at the path
the user wrote), commit at stop; `runtime.volumes.readonly` makes a read-only mount refuse writes on
disk (a read-only bind in the process's own mount namespace).  Stdlib only until an S3 store is
opened (boto3, lazily).
"""

from runtime.volumes.base import FileEntry, FileEntryType, VolumeError, VolumeStore

__all__ = ["FileEntry", "FileEntryType", "VolumeError", "VolumeStore"]
