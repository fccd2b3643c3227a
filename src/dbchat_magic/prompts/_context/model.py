"""What a frame description holds before it is rendered: library-neutral summaries."""

from __future__ import annotations

from dataclasses import dataclass, field

# Long frames are described from SAMPLE_BLOCKS evenly spaced runs of BLOCK_ROWS consecutive rows
# (first and last row included): bounded work whatever the row count, and contiguous runs cost
# a fifth of the cache misses of 10,000 scattered rows on a 10M-row frame.
SAMPLE_BLOCKS = 100
BLOCK_ROWS = 100
SAMPLE_SIZE = SAMPLE_BLOCKS * BLOCK_ROWS
SAMPLE_NOTE = (f"(hints from a sample of {SAMPLE_SIZE} rows: {SAMPLE_BLOCKS} evenly spaced runs "
               f"of {BLOCK_ROWS})")
SAMPLE_ROWS = 3  # example rows shown per frame
LOW_CARDINALITY = 20  # at most this many distinct values: listed as categories
LONG_TEXT_CHARS = 200  # longer on average: a long-text column (its values stay out of samples)


@dataclass
class ColumnSummary:
    """One column: display name (already made safe), dtype text, short hints, sample cells.

    ``key`` is the quoted name used in sample rows; ``samples`` are formatted cell texts (one per
    sample row); ``in_samples`` is False for columns too bulky to show (long text, blobs);
    ``date_only`` marks timestamp columns that hold only midnights (shown as dates).
    """

    name: str
    dtype: str
    hints: list[str] = field(default_factory=list)
    key: str = ""
    samples: list[str] = field(default_factory=list)
    in_samples: bool = True
    date_only: bool = False


@dataclass
class FrameSummary:
    """One frame: kind ("pandas DataFrame"), shape, described columns, notes and sample rows.

    ``rows`` is an int, or "?" when counting would cost a scan (Spark). ``columns`` may hold fewer
    entries than ``n_columns`` (wide frames); ``n_samples`` is the number of sample rows held in
    each column's ``samples``.
    """

    kind: str
    rows: int | str
    n_columns: int
    columns: list[ColumnSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_samples: int = 0
