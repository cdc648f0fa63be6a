"""Resident memory of a process and all its descendants, read from /proc (Linux only)."""

import os
from pathlib import Path

PROC = Path("/proc")
# An engine's KV cache is reserved at its first request and turns resident page by page as blocks are
# first used. Anonymous mappings (no file, not [heap]) at least this large are counted apart as
# "pool" memory: their resident size can only grow up to their fixed size. Measured with OpenVINO
# 2026.4 on the default servable (cache_size 2): the cache is one ~2 GB anonymous mapping (its
# per-layer tensors are above glibc's 32 MB mmap threshold, and the kernel merges the adjacent
# mmaps). With cache_size 1 the per-layer tensors came from the brk [heap] instead, which is not
# counted here: there this heuristic sees no pool and all growth counts as ordinary memory.
POOL_MAPPING_MIN_KB = 256 * 1024


def _read(path):
    try:
        return Path(path).read_text(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def parent_of(pid):
    stat = _read(PROC / str(pid) / "stat")
    if stat is None:
        return None
    # The command name (2nd field) may hold spaces and parentheses: split after its last ')'.
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root):
    """Every live descendant of `root`, found by walking /proc for parent ids."""
    children = {}
    for entry in os.listdir(PROC):
        if entry.isdigit():
            parent = parent_of(entry)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in sorted(children.get(todo.pop(), [])):
            found.append(child)
            todo.append(child)
    return found


def rss_kb(pid):
    status = _read(PROC / str(pid) / "status")
    for line in (status or "").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def pool_kb(pid):
    """(resident kB, reserved kB) of the process's anonymous mappings of at least POOL_MAPPING_MIN_KB."""
    smaps = _read(PROC / str(pid) / "smaps")
    resident = reserved = 0
    anonymous, size = False, 0
    for line in (smaps or "").splitlines():
        fields = line.split()
        if "-" in fields[0] and not fields[0].endswith(":"):  # a mapping's header line
            anonymous = len(fields) < 6  # no path: anonymous (not [heap], [stack] or a file)
            size = 0
        elif fields[0] == "Size:":
            size = int(fields[1])
        elif fields[0] == "Rss:" and anonymous and size >= POOL_MAPPING_MIN_KB:
            resident += int(fields[1])
            reserved += size
    return resident, reserved


def label(pid, root):
    """A stable name for an ovserve process: supervisor, engine <servable/node>, http master, http worker."""
    argv = (_read(PROC / str(pid) / "cmdline") or "").split("\0")
    if pid == root:
        return "supervisor"
    if "ovserve.runtime.engine_host" in argv:
        return "engine " + (argv[argv.index("--name") + 1] if "--name" in argv else str(pid))
    if "ovserve.server.wsgi" in argv:
        return "http master" if parent_of(pid) == root else f"http worker {pid}"
    return f"{Path(argv[0]).name or '?'} {pid}"


def tree_rss(root):
    """{label: {"pid", "rss_kb", "pool_kb", "pool_reserved_kb"}} for `root` and its live descendants."""
    tree = {}
    for pid in [root, *descendants(root)]:
        kb = rss_kb(pid)
        if kb is not None:
            resident, reserved = pool_kb(pid)
            tree[label(pid, root)] = {"pid": pid, "rss_kb": kb, "pool_kb": resident, "pool_reserved_kb": reserved}
    return tree


def total_kb(tree, field="rss_kb"):
    return sum(entry[field] for entry in tree.values())
