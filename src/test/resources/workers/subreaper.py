#!/usr/bin/env python3
"""Runs a command as a child subreaper: prctl(PR_SET_CHILD_SUBREAPER, 1), then exec (kept across exec).

Orphans of the command's descendants are re-parented to it instead of to init, as under
tini -s, a service manager, or any supervisor that set it before exec'ing einhyrningsins.
"""
import ctypes
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
os.execvp(sys.argv[1], sys.argv[1:])
