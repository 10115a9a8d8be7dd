"""Raising an exception in another thread of this process.

Python cannot end a thread from outside; :func:`raise_in_thread` asks the
interpreter to raise an exception in it the next time it runs Python code.
A thread blocked in C (``time.sleep``, a socket read) sees it only once that
call returns, and code catching ``BaseException`` may swallow it.
"""

from __future__ import annotations

import ctypes


def raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> bool:
    """Raise ``exc_type`` in the thread ``thread_id`` (its ``threading.get_ident()``); False if no such thread."""
    found = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))
    return bool(found)
