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
from .act import Actor, executor_for, preflight, reconcile, undo
from .cache import Cache, default_cache_path, open_cache
from .compare import Comparison, compare_files
from .errors import CacheError, CacheVersionError, DupfindError, FingerprintError, RootError
from .fingerprint import PARAMS, distance, fingerprint_file, fingerprint_path
from .group import group_duplicates, group_exact
from .journal import Journal, journal_path
from .keeper import DEFAULT_RULES, parse_rules
from .models import (
    Candidate,
    ExactGroup,
    Failure,
    Fingerprint,
    Group,
    GroupOutcome,
    ImageFile,
    Outcome,
    PlannedGroup,
    Progress,
    ScannedFile,
    ScanReport,
)
from .plan import PlanOptions, confirm, plan_all, plan_group, under_any
from .scan import ScanOptions, scan
from .vptree import VPTree, pairs_within
from .walk import WalkOptions, walk

__all__ = [
    "DEFAULT_RULES",
    "PARAMS",
    "Actor",
    "Cache",
    "CacheError",
    "CacheVersionError",
    "Candidate",
    "Comparison",
    "DupfindError",
    "ExactGroup",
    "Failure",
    "Fingerprint",
    "FingerprintError",
    "Group",
    "GroupOutcome",
    "ImageFile",
    "Journal",
    "Outcome",
    "PlanOptions",
    "PlannedGroup",
    "Progress",
    "RootError",
    "ScanOptions",
    "ScanReport",
    "ScannedFile",
    "VPTree",
    "WalkOptions",
    "__version__",
    "compare_files",
    "confirm",
    "default_cache_path",
    "distance",
    "executor_for",
    "fingerprint_file",
    "fingerprint_path",
    "group_duplicates",
    "group_exact",
    "journal_path",
    "open_cache",
    "pairs_within",
    "parse_rules",
    "plan_all",
    "plan_group",
    "preflight",
    "reconcile",
    "scan",
    "under_any",
    "undo",
    "walk",
]
