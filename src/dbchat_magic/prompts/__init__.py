"""Prompt composition: personas, data context from the user's DataFrames, token budgets.

`compose` builds ``[system, *history, user]``; `describe_frames` renders the ``## Data context``
section on its own. polars and pyspark are imported only when such frames are in the namespace.
"""

from __future__ import annotations

from dbchat_magic.prompts._budget import truncate_to_tokens
from dbchat_magic.prompts._compose import ComposedPrompt, PromptPart, compose, trim_history
from dbchat_magic.prompts._data_context import DataContext, build_data_context, describe_frames
from dbchat_magic.prompts._personas import (
    Persona,
    get_persona,
    list_personas,
    register_persona,
    unregister_persona,
)
from dbchat_magic.prompts._selection import FrameNotFound, frame_names, is_frame, rank_frames
from dbchat_magic.tokens import estimate_tokens

__all__ = [
    "ComposedPrompt",
    "DataContext",
    "FrameNotFound",
    "Persona",
    "PromptPart",
    "build_data_context",
    "compose",
    "describe_frames",
    "estimate_tokens",
    "frame_names",
    "get_persona",
    "is_frame",
    "list_personas",
    "rank_frames",
    "register_persona",
    "trim_history",
    "truncate_to_tokens",
    "unregister_persona",
]
