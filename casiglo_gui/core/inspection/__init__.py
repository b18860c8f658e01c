"""Qt-free state of the inspector: the queue, the item on show, loading and detectors."""
from .queue import (  # noqa: F401
    InspectionQueue, QueueBuildError, QueueFilter, QueueItem, expand_paths, latest_grades, read_scan_table,
    sort_by_score,
)
from .view import ViewState, fit_line, ivar_smooth, redshift_nudged, sky_ranges_a  # noqa: F401
from .loading import DetectorSet, LoadedItem, SpectrumCache, detect_item, load_item, read_item  # noqa: F401
from .actions import KEYMAP, KeyBinding, key_variants  # noqa: F401
from .session import GradeRefused, InspectionSession  # noqa: F401
