# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# (no bounds checks: every index into a typed list or a C array here is an id this module
# made, or a number from a prefix state checked against its range first)
"""The layer stacking of inspector/analysis.py in C, over integer path ids.

The rules, and the Python version this must match result for result, are in
inspector/analysis.py (`_Stack`, `_apply`, `_ensure_parents`, `_classify`): this module
keeps the same state in another shape. Every path seen gets an id (a dict from path to
id, the one Python object per path besides the entry the layer index already holds);
the node of each id is a C struct (present, directory, layer, copy, parent) and the
children index is a doubly linked list through those structs, so removing a path or a
directory's subtree touches only the ids removed. Stored copies are a second array of
structs. tests/unit/test_native.py checks on generated stacks that both versions give
the same analysis, final file system and prefix states.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport Py_EQ, Py_NE, PyObject, PyObject_RichCompareBool
from cpython.unicode cimport PyUnicode_Compare, PyUnicode_GET_LENGTH, PyUnicode_Tailmatch
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t

cdef extern from "Python.h":
    PyObject* PyDict_SetDefault(object mapping, object key, object value) except NULL  # borrowed


cdef extern from "stdlib.h":
    # qsort, declared with the GIL held (by_waste compares str objects)
    void sort_rows "qsort"(void* rows, size_t count, size_t size,
                           int (*compare)(const void*, const void*) noexcept)

from inspector.changes import ChangeKind, EntryType, FileEntry, Removal
from inspector.errors import add_warning

cdef object FILE = EntryType.FILE
cdef object DIR = EntryType.DIR
cdef object SYMLINK = EntryType.SYMLINK
cdef object HARDLINK = EntryType.HARDLINK
cdef object ADDED = ChangeKind.ADDED
cdef object MODIFIED = ChangeKind.MODIFIED
cdef object REMOVED = ChangeKind.REMOVED
cdef object UNCHANGED = ChangeKind.UNCHANGED
cdef list REMOVALS = list(Removal)
cdef int DELETED = REMOVALS.index(Removal.DELETED)
cdef int PARENT_DELETED = REMOVALS.index(Removal.PARENT_DELETED)
cdef int OPAQUE = REMOVALS.index(Removal.OPAQUE)
cdef int REPLACED = REMOVALS.index(Removal.REPLACED)
cdef list TYPES = list(EntryType)
cdef object NEW = tuple.__new__
cdef object ENTRY = FileEntry

cdef enum:
    PRESENT = 1  # the path is in the stacked file system
    IS_DIR = 2  # a directory (an entry of type dir, or implied by a deeper path)
    NO_ENTRY = 255  # (prefix states) a directory implied by a deeper entry


ctypedef struct Node:
    int32_t parent  # the id of the path up to the last slash (0: the root, "")
    int32_t first  # first child (-1: none); children link through next/prev
    int32_t next
    int32_t prev
    int32_t layer  # the layer that left the node there
    int32_t copy  # index into the copy table, -1 for none
    uint32_t removed_in  # the `apply` that last removed the path (0: none)
    uint8_t flags


ctypedef struct Copy:
    int64_t size
    int32_t layer  # the layer that stored it
    int32_t refs  # the paths that show it (its own and hard links bound to it)
    int32_t path  # the id of the path it was stored at
    int32_t hidden_by  # the layer that hid the last reference
    uint8_t how  # index into Removal
    uint8_t hidden  # ever hidden (its place in `order`)


ctypedef struct Wasted:  # a hidden copy, as `wasted` sorts them
    int64_t size
    PyObject* path  # borrowed from Stack.paths
    int32_t layer
    int32_t rank  # its place in the order copies were hidden: the last tie-break


cdef int by_waste(const void* one, const void* two) noexcept:
    """analysis' order of wasted files: largest first, then by path, then by the layer
    that stored it (and, as a stable sort leaves them, in the order they were hidden)."""
    cdef const Wasted* a = <const Wasted*>one
    cdef const Wasted* b = <const Wasted*>two
    cdef int order
    if a.size != b.size:
        return -1 if a.size > b.size else 1
    if a.path != b.path:
        order = PyUnicode_Compare(<object>a.path, <object>b.path)  # str: cannot fail
        if order:
            return order
    if a.layer != b.layer:
        return -1 if a.layer < b.layer else 1
    return -1 if a.rank < b.rank else (1 if a.rank > b.rank else 0)


ctypedef struct Tally:
    int64_t added
    int64_t modified
    int64_t removed
    int64_t unchanged
    int64_t added_bytes
    int64_t modified_bytes
    int64_t removed_bytes
    int64_t stored


cdef void* grown(void* block, Py_ssize_t* capacity, Py_ssize_t wanted, size_t item) except NULL:
    """`block` with room for at least `wanted` items (doubling), or MemoryError."""
    cdef Py_ssize_t size = capacity[0]
    if wanted <= size:
        return block
    while size < wanted:
        size = size * 2 if size else 1024
    cdef void* bigger = PyMem_Realloc(block, size * item)
    if bigger == NULL:
        raise MemoryError()
    capacity[0] = size
    return bigger


cdef class Stack:
    """The stacked file system and the table of stored copies (see analysis._Stack)."""

    cdef Node* nodes
    cdef Py_ssize_t count
    cdef Py_ssize_t node_room
    cdef Copy* copies
    cdef Py_ssize_t copy_count
    cdef Py_ssize_t copy_room
    cdef int32_t* order  # copies in the order they were first hidden
    cdef Py_ssize_t hidden_count
    cdef Py_ssize_t order_room
    cdef dict ids
    cdef list paths
    cdef list entries  # id -> its last entry (kept after removal: what a re-creation is
    #                    classified against), None for an implied directory
    cdef readonly int64_t live_bytes
    cdef readonly Py_ssize_t present
    cdef uint32_t token
    cdef readonly bint resumed
    cdef object implied
    cdef list reasons  # FileEntry.differences by the mask of fields that differ
    cdef str last_parent  # the parent interned last, and its id: a tar lists a
    cdef int32_t last_parent_id  # directory's entries together

    def __cinit__(self, implied):
        self.ids = {}
        self.paths = []
        self.entries = []
        self.implied = implied
        self.reasons = [None] * 32
        self.new_id("", -1)  # the root: never a node, the parent of top-level paths
        self.nodes[0].flags = IS_DIR

    def __dealloc__(self):
        PyMem_Free(self.nodes)
        PyMem_Free(self.copies)
        PyMem_Free(self.order)

    # --- ids ---------------------------------------------------------------------------

    cdef int32_t new_id(self, str path, int32_t parent) except -1:
        self.ids[path] = self.count
        return self.new_node(path, parent)

    cdef int32_t new_node(self, str path, int32_t parent) except -1:
        """The node of the id `self.count`, which `self.ids` already gives `path`."""
        self.nodes = <Node*>grown(self.nodes, &self.node_room, self.count + 1, sizeof(Node))
        cdef int32_t id = <int32_t>self.count
        cdef Node* node = &self.nodes[id]
        node.parent = parent
        node.first = -1
        node.next = -1
        node.prev = -1
        node.layer = 0
        node.copy = -1
        node.removed_in = 0
        node.flags = 0
        self.count += 1
        self.paths.append(path)
        self.entries.append(None)
        return id

    cdef int32_t intern(self, str path) except -1:
        """The id of `path`, a new one (and ids for its parents) when it has none."""
        if self.count >= 0x7FFFFFFF:
            raise OverflowError("too many paths")
        cdef object fresh = self.count  # (typed: an object, the one the dict keeps)
        found = <object>PyDict_SetDefault(self.ids, path, fresh)
        if found is not fresh:
            return <int32_t>found
        cdef int32_t id = self.new_node(path, 0)
        cdef Py_ssize_t slash = path.rfind("/")
        cdef int32_t parent = 0
        cdef str above
        if slash >= 0:
            above = self.last_parent
            if (
                above is not None
                and PyUnicode_GET_LENGTH(above) == slash
                and PyUnicode_Tailmatch(path, above, 0, slash, -1)
            ):
                parent = self.last_parent_id
            else:
                above = path[:slash]
                parent = self.intern(above)
                self.last_parent = above
                self.last_parent_id = parent
        self.nodes[id].parent = parent
        return id

    cdef inline int32_t lookup(self, str path) except -2:
        cdef object found = self.ids.get(path)
        return -1 if found is None else <int32_t>found

    cdef inline bint shown(self, int32_t id) noexcept:
        return id >= 0 and (self.nodes[id].flags & PRESENT) != 0

    # --- the children index ----------------------------------------------------------------

    cdef inline void link(self, int32_t id) noexcept:
        cdef Node* node = &self.nodes[id]
        cdef Node* parent = &self.nodes[node.parent]
        node.prev = -1
        node.next = parent.first
        if parent.first >= 0:
            self.nodes[parent.first].prev = id
        parent.first = id

    cdef inline void unlink(self, int32_t id) noexcept:
        cdef Node* node = &self.nodes[id]
        if node.prev >= 0:
            self.nodes[node.prev].next = node.next
        else:
            self.nodes[node.parent].first = node.next
        if node.next >= 0:
            self.nodes[node.next].prev = node.prev
        node.prev = -1
        node.next = -1

    # --- copies ----------------------------------------------------------------------

    cdef int32_t new_copy(self, int32_t path, int64_t size, int32_t layer) except -1:
        if self.copy_count >= 0x7FFFFFFF:
            raise OverflowError("too many copies")
        self.copies = <Copy*>grown(
            self.copies, &self.copy_room, self.copy_count + 1, sizeof(Copy)
        )
        cdef int32_t copy = <int32_t>self.copy_count
        cdef Copy* c = &self.copies[copy]
        c.size = size
        c.layer = layer
        c.refs = 1
        c.path = path
        c.hidden_by = 0
        c.how = 0
        c.hidden = 0
        self.copy_count += 1
        self.live_bytes += size
        return copy

    cdef int unref(self, int32_t copy, int32_t layer, int how) except -1:
        if copy < 0:
            return 0
        cdef Copy* c = &self.copies[copy]
        c.refs -= 1
        if c.refs == 0:
            if not c.hidden:
                self.order = <int32_t*>grown(
                    self.order, &self.order_room, self.hidden_count + 1, sizeof(int32_t)
                )
                self.order[self.hidden_count] = copy
                self.hidden_count += 1
                c.hidden = 1
            c.hidden_by = layer
            c.how = <uint8_t>how
            self.live_bytes -= c.size
        return 0

    # --- stacking --------------------------------------------------------------------

    cdef object differences(self, object new, object old):
        """`entry.differences(before)`: which fields differ is worked out here, what the
        reasons are called by FileEntry.differences (once per combination)."""
        cdef int mask = 0
        cdef tuple entry = <tuple>new
        cdef tuple before = <tuple>old
        kind = entry[1]
        if kind is not before[1]:
            mask |= 1
        elif kind is FILE and (
            PyObject_RichCompareBool(entry[2], before[2], Py_NE)
            or PyObject_RichCompareBool(entry[8], before[8], Py_NE)
        ):
            mask |= 2
        if PyObject_RichCompareBool(entry[3], before[3], Py_NE):
            mask |= 4
        if PyObject_RichCompareBool(entry[4], before[4], Py_NE) or PyObject_RichCompareBool(
            entry[5], before[5], Py_NE
        ):
            mask |= 8
        if (kind is SYMLINK or kind is HARDLINK) and PyObject_RichCompareBool(
            entry[7], before[7], Py_NE
        ):
            mask |= 16
        if mask == 0:
            return ()
        found = self.reasons[mask]
        if found is None:
            found = self.reasons[mask] = new.differences(old)
        return found

    cdef int remove(
        self, int32_t id, int32_t layer, int how, int below, dict kinds, Tally* tally
    ) except -1:
        """Remove the path and everything under it; `how` for the path, `below` for the
        rest (analysis._Stack.remove)."""
        cdef Node* node = &self.nodes[id]
        if not (node.flags & PRESENT):
            return 0
        node.flags &= ~PRESENT
        self.present -= 1
        self.unlink(id)
        while self.nodes[id].first >= 0:  # (a path's depth is bounded: MAX_PATH_DEPTH)
            self.remove(self.nodes[id].first, layer, below, below, kinds, tally)
        node = &self.nodes[id]
        self.unref(node.copy, layer, how)
        node.copy = -1
        node.removed_in = self.token
        kinds[self.paths[id]] = REMOVED
        tally.removed += 1
        entry = self.entries[id]
        if entry is not None and (<tuple>entry)[1] is FILE:
            tally.removed_bytes += <int64_t>(<tuple>entry)[2]
        return 0

    cdef int put(self, int32_t id, object entry, int32_t layer, int32_t copy, bint is_dir) except -1:
        """Show `entry` at the path (a new node, or over the one there)."""
        cdef Node* node = &self.nodes[id]
        if not (node.flags & PRESENT):
            node.flags |= PRESENT
            self.present += 1
            self.link(id)
        node.layer = layer
        node.copy = copy
        if is_dir:
            node.flags |= IS_DIR
        else:
            node.flags &= ~IS_DIR
        self.entries[id] = entry
        return 0

    cdef int ensure_parents(
        self, int32_t id, int32_t layer, dict kinds, Tally* tally
    ) except -1:
        """analysis._ensure_parents: the directories above `id` (not at the root)."""
        cdef int32_t parent = self.nodes[id].parent
        cdef Node* node = &self.nodes[parent]
        if (node.flags & PRESENT) and (node.flags & IS_DIR):
            return 0
        cdef list missing = []
        while True:
            node = &self.nodes[parent]
            if node.flags & PRESENT:
                entry = self.entries[parent]
                if entry is not None and (<tuple>entry)[1] is SYMLINK:
                    break  # a runtime writes through a symlinked parent; keep the link
                if not (node.flags & IS_DIR):
                    # a file where a directory is needed: a runtime replaces it
                    self.remove(parent, layer, REPLACED, REPLACED, kinds, tally)
                    missing.append(parent)
                break
            missing.append(parent)
            if self.nodes[parent].parent == 0:
                break
            parent = self.nodes[parent].parent
        cdef Py_ssize_t i
        cdef int32_t directory
        for i in range(len(missing) - 1, -1, -1):
            directory = <int32_t>missing[i]
            self.put(directory, None, layer, -1, True)
            kinds[self.paths[directory]] = ADDED
            tally.added += 1
        return 0

    def apply(self, int32_t layer, index, stats, changes, list warnings):
        """Stack one layer (analysis._apply)."""
        cdef Tally tally
        tally.added = tally.modified = tally.removed = tally.unchanged = 0
        tally.added_bytes = tally.modified_bytes = tally.removed_bytes = tally.stored = 0
        cdef dict kinds = changes.kinds
        cdef dict reasons = changes.reasons
        cdef int32_t id, parent, copy, target
        cdef int64_t size
        cdef Node* node
        cdef Node* lower
        cdef bint is_dir, had
        cdef uint32_t token
        self.token += 1
        token = self.token
        for directory in index.opaque:
            id = self.lookup(directory)
            if id >= 0:
                while self.nodes[id].first >= 0:
                    self.remove(self.nodes[id].first, layer, OPAQUE, OPAQUE, kinds, &tally)
        entries = index.entries
        for path in index.whiteouts:
            id = self.lookup(path)
            if self.shown(id):
                self.remove(id, layer, DELETED, PARENT_DELETED, kinds, &tally)
            elif path not in entries:
                add_warning(
                    warnings, f"layer {layer}: whiteout for {path!r}, which no lower layer has"
                )
        items = index.sequence if index.sequence is not None else entries.values()
        for entry in items:
            if not isinstance(entry, tuple) or len(<tuple>entry) != 9:  # (read unchecked)
                raise TypeError(f"not a FileEntry: {type(entry).__name__}")
            path = (<tuple>entry)[0]
            etype = (<tuple>entry)[1]
            size = (<tuple>entry)[2]
            if etype is FILE:
                tally.stored += size
            id = self.intern(path)
            parent = self.nodes[id].parent
            if parent > 0:
                node = &self.nodes[parent]
                if not ((node.flags & PRESENT) and (node.flags & IS_DIR)):
                    self.ensure_parents(id, layer, kinds, &tally)
            lower = &self.nodes[id]
            had = (lower.flags & PRESENT) != 0
            if had and lower.layer == layer:
                kind = kinds.get(path, ADDED)  # repeated in this layer
            elif not had and lower.removed_in != token:
                tally.added += 1
                tally.added_bytes += size
                kind = ADDED
            else:
                before = self.entries[id]
                if not had:  # removed and recreated by this layer
                    tally.removed -= 1
                    if before is not None and (<tuple>before)[1] is FILE:
                        tally.removed_bytes -= <int64_t>(<tuple>before)[2]
                if before is None:
                    before = self.implied
                found = self.differences(entry, before)
                if found:
                    reasons[path] = found
                    tally.modified += 1
                    tally.modified_bytes += size
                    kind = MODIFIED
                else:
                    tally.unchanged += 1
                    kind = UNCHANGED
            lower = &self.nodes[id]
            if had:
                if etype is DIR and (lower.flags & IS_DIR):
                    self.entries[id] = entry
                    lower.layer = layer
                    kinds[path] = kind
                    continue
                if lower.flags & IS_DIR:
                    while self.nodes[id].first >= 0:
                        self.remove(self.nodes[id].first, layer, REPLACED, REPLACED, kinds, &tally)
                self.unref(self.nodes[id].copy, layer, REPLACED)
            copy = -1
            if etype is FILE:
                copy = self.new_copy(id, size, layer)
            elif etype is HARDLINK:
                target = self.lookup((<tuple>entry)[7])
                if self.shown(target):
                    copy = self.nodes[target].copy
                    if copy >= 0:
                        self.copies[copy].refs += 1
                else:
                    add_warning(
                        warnings,
                        f"layer {layer}: hard link {path!r} names missing {(<tuple>entry)[7]!r}",
                    )
            self.put(id, entry, layer, copy, etype is DIR)
            kinds[path] = kind
        stats.added += tally.added
        stats.modified += tally.modified
        stats.removed += tally.removed
        stats.unchanged += tally.unchanged
        stats.added_bytes += tally.added_bytes
        stats.modified_bytes += tally.modified_bytes
        stats.removed_bytes += tally.removed_bytes
        stats.stored_bytes += tally.stored

    # --- results ---------------------------------------------------------------------

    def stored_bytes(self):
        cdef int64_t total = 0
        cdef Py_ssize_t i
        for i in range(self.copy_count):
            total += self.copies[i].size
        return total

    def node_count(self):
        return self.present

    def wasted(self, cls, Py_ssize_t layers):
        """The hidden copies as `cls(path, size, stored_in, hidden_by, how)` in the order
        of analysis._Stack.wasted, and the bytes hidden per layer that stored them."""
        cdef list found = []
        cdef list per_layer = [0] * layers
        cdef Py_ssize_t i
        cdef Copy* c
        cdef Wasted* rows = <Wasted*>PyMem_Malloc((self.hidden_count or 1) * sizeof(Wasted))
        if rows == NULL:
            raise MemoryError()
        try:
            for i in range(self.hidden_count):
                c = &self.copies[self.order[i]]
                if c.layer < 0 or c.layer >= layers:  # (only a damaged prefix state)
                    raise ValueError("a copy of a layer the image does not have")
                rows[i].size = c.size
                rows[i].path = <PyObject*>self.paths[c.path]
                rows[i].layer = c.layer
                rows[i].rank = <int32_t>i
                per_layer[c.layer] += c.size
            sort_rows(rows, self.hidden_count, sizeof(Wasted), by_waste)
            for i in range(self.hidden_count):
                c = &self.copies[self.order[rows[i].rank]]
                found.append(NEW(cls, (<object>rows[i].path, c.size, c.layer, c.hidden_by,
                                       REMOVALS[c.how])))
        finally:
            PyMem_Free(rows)
        return found, per_layer

    def shown_paths(self):
        """Every path shown: path -> (layer, entry, or the implied directory's entry)."""
        cdef dict shown = {}
        cdef Py_ssize_t i
        for i in range(1, self.count):
            if self.nodes[i].flags & PRESENT:
                entry = self.entries[i]
                shown[self.paths[i]] = (self.nodes[i].layer, self.implied if entry is None else entry)
        return shown

    # --- prefix states -----------------------------------------------------------------

    def state_columns(self):
        """The columns a prefix state stores (analysis.encode_state): the paths grouped by
        parent, the parents, where each group starts, per path its entry (None: implied),
        layer, copy and directory flag; per copy its size, layer and references; the
        hidden copies in order, with the layer that hid them, how and their paths; every
        copy's path; the visible bytes."""
        cdef list dirs = []
        cdef list order = []
        cdef list starts = []
        cdef list entries = []
        cdef list layers = []
        cdef list copies = []
        cdef bytearray is_dir = bytearray()
        cdef Py_ssize_t i
        cdef int32_t child
        for i in range(self.count):
            if i and not (self.nodes[i].flags & PRESENT):
                continue
            child = self.nodes[i].first
            if i and child < 0 and not (self.nodes[i].flags & IS_DIR):
                continue
            dirs.append(self.paths[i])
            starts.append(len(order))
            while child >= 0:
                order.append(self.paths[child])
                entries.append(self.entries[child])
                layers.append(self.nodes[child].layer)
                copies.append(self.nodes[child].copy)
                is_dir.append(1 if self.nodes[child].flags & IS_DIR else 0)
                child = self.nodes[child].next
        starts.append(len(order))
        cdef list sizes = []
        cdef list copy_layers = []
        cdef list refs = []
        cdef list copy_paths = []
        cdef Copy* c
        for i in range(self.copy_count):
            c = &self.copies[i]
            sizes.append(c.size)
            copy_layers.append(c.layer)
            refs.append(c.refs)
            copy_paths.append(self.paths[c.path])
        cdef list hidden = []
        cdef list hidden_by = []
        cdef bytearray hows = bytearray()
        for i in range(self.hidden_count):
            c = &self.copies[self.order[i]]
            hidden.append(self.order[i])
            hidden_by.append(c.hidden_by)
            hows.append(c.how)
        return (order, dirs, starts, entries, layers, copies, bytes(is_dir), sizes,
                copy_layers, refs, hidden, hidden_by, bytes(hows), copy_paths,
                self.live_bytes)

    def resume(self, order, dirs, starts, types, sizes, modes, uids, gids, mtimes, dict links,
               digests, layers, copies, is_dir, copy_size, copy_layer, refs, hidden,
               hidden_by, hows, all_paths, int64_t live_bytes):
        """Load a decoded prefix state into this empty stack (analysis.decode_state has
        checked the column lengths); ValueError for anything inconsistent."""
        if self.count != 1 or self.copy_count:
            raise ValueError("a prefix state loads into an empty stack")
        cdef Py_ssize_t j, row, copy_count = len(copy_size)
        cdef int32_t parent, id, copy
        cdef Node* node
        cdef int kind
        for j in range(len(dirs)):
            parent = self.intern(dirs[j])
            for row in range(starts[j], starts[j + 1]):
                path = order[row]
                id = self.intern(path)
                node = &self.nodes[id]
                if node.parent != parent or node.flags & PRESENT:
                    raise ValueError("children index does not match the nodes")
                copy = copies[row]
                if copy < -1 or copy >= copy_count:
                    raise ValueError("a node's copy is out of range")
                kind = types[row]
                entry = None
                if kind != NO_ENTRY:
                    if kind < 0 or kind >= len(TYPES):
                        raise ValueError("an unknown entry type")
                    entry = NEW(ENTRY, (path, TYPES[kind], sizes[row], modes[row], uids[row],
                                        gids[row], mtimes[row], links.get(row, ""),
                                        digests[row]))
                self.put(id, entry, layers[row], copy, is_dir[row] != 0)
        for j in range(copy_count):
            self.new_copy(self.intern(all_paths[j]), copy_size[j], copy_layer[j])
            self.copies[j].refs = refs[j]
        for j in range(len(hidden)):
            copy = hidden[j]
            if copy < 0 or copy >= copy_count or self.copies[copy].hidden:
                raise ValueError("a hidden copy is out of range")
            if hows[j] >= len(REMOVALS):
                raise ValueError("an unknown removal")
            self.order = <int32_t*>grown(
                self.order, &self.order_room, self.hidden_count + 1, sizeof(int32_t)
            )
            self.order[self.hidden_count] = copy
            self.hidden_count += 1
            self.copies[copy].hidden = 1
            self.copies[copy].hidden_by = hidden_by[j]
            self.copies[copy].how = <uint8_t>hows[j]
        self.live_bytes = live_bytes
        self.resumed = True
