"""dupfind: find duplicate and near-duplicate photos without ever losing one.

The library behind the ``dupfind`` command. The stages, in pipeline order::

    from dupfind import ScanOptions, group_exact, open_cache, scan
    from dupfind.fingerprint import PARAMS

    with open_cache("photos.sqlite3", PARAMS) as cache:
        report = scan(["~/Pictures"], cache, ScanOptions(jobs=2))
    for group in group_exact(report.files):
        print(group.sha256, [f.path for f in group.files])
"""

from ._version import __version__
from .cache import Cache, default_cache_path, open_cache
from .compare import Comparison, compare_files
from .errors import CacheError, CacheVersionError, DupfindError, FingerprintError, RootError
from .fingerprint import PARAMS, distance, fingerprint_file, fingerprint_path
from .group import group_exact
from .models import ExactGroup, Failure, Fingerprint, ImageFile, Progress, ScannedFile, ScanReport
from .scan import ScanOptions, scan
from .walk import WalkOptions, walk

__all__ = [
    "PARAMS",
    "Cache",
    "CacheError",
    "CacheVersionError",
    "Comparison",
    "DupfindError",
    "ExactGroup",
    "Failure",
    "Fingerprint",
    "FingerprintError",
    "ImageFile",
    "Progress",
    "RootError",
    "ScanOptions",
    "ScanReport",
    "ScannedFile",
    "WalkOptions",
    "__version__",
    "compare_files",
    "default_cache_path",
    "distance",
    "fingerprint_file",
    "fingerprint_path",
    "group_exact",
    "open_cache",
    "scan",
    "walk",
]
