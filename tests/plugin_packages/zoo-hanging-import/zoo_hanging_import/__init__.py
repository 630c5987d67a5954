"""A plugin whose import hangs (as one waiting on a dead network share or a lock would)."""

import threading

threading.Event().wait()  # never set: the import never returns
