"""Which structured-output requests may join the batch at the next step: one new grammar at a time.

The pipeline compiles a request's JSON schema into a grammar inside the step that first schedules it, in
the engine's only thread, and every stream waits for it (measured: two different 300-property schemas
in one step took 2.9 s, one alone 1.9 s; the same schema again 0.04 s, from the engine's grammar cache).
So requests whose schema is known to compile join at once, and of the others only those sharing one
schema join, when no other new grammar is still being compiled: a burst of new schemas costs one
compile per step instead of all of them in one step. Knowing which grammar is being compiled also tells
which request a failed step was compiling (see engine_recovery.py).

Pure bookkeeping: no engine objects here.
"""

from collections import OrderedDict, deque

COMPILED_SCHEMAS_KEPT = 4096


class GrammarAdmission:
    def __init__(self, kept=COMPILED_SCHEMAS_KEPT):
        self._compiled = OrderedDict()  # schema texts known to compile, least recently used first
        self._kept = kept
        self._waiting = deque()  # (key, schema) in arrival order
        self.compiling = None  # the schema admitted and not yet known to compile

    def __len__(self):
        return len(self._waiting)

    def is_compiled(self, schema):
        return schema in self._compiled

    def add(self, key, schema):
        self._waiting.append((key, schema))

    def cancel(self, key):
        before = len(self._waiting)
        self._waiting = deque(item for item in self._waiting if item[0] != key)
        return len(self._waiting) != before

    def admit(self):
        """The keys that may join the batch now, in arrival order."""
        if not self._waiting:
            return []
        admitted, kept = [], deque()
        for key, schema in self._waiting:
            if schema in self._compiled:
                self._compiled.move_to_end(schema)
                admitted.append(key)
            elif self.compiling is None or schema == self.compiling:
                self.compiling = schema
                admitted.append(key)
            else:
                kept.append((key, schema))
        self._waiting = kept
        return admitted

    def compiled(self, schema):
        """A request of this schema produced output: its grammar compiled."""
        if schema == self.compiling:
            self.compiling = None
        self._compiled[schema] = True
        self._compiled.move_to_end(schema)
        while len(self._compiled) > self._kept:
            self._compiled.popitem(last=False)

    def left(self, schema):
        """A request of this schema left before any output (cancelled): its compile is no longer awaited."""
        if schema == self.compiling:
            self.compiling = None

    def failed(self, schema):
        """The grammar of `schema` failed to compile: return the waiting keys of the same schema (they
        would fail alike) and forget them."""
        if schema == self.compiling:
            self.compiling = None
        same = [key for key, waiting in self._waiting if waiting == schema]
        self._waiting = deque(item for item in self._waiting if item[1] != schema)
        return same
