# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The header walk in C: the contract, and the Python version it must match, are in
inspector/headerwalk.py.

Every length used here is a constant of the ustar layout or comes from a NUL search bounded
by its field, and every content range is checked against the buffer before it is sliced:
a header cannot make this code read outside `buf`. Whatever it does not read in C (a
number with a sign, base-256 or odd spaces, a checksum that only matches loosely, any
other entry type) ends the walk, and the tar reader's full parser takes over.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int64_t
from libc.string cimport memchr, memcmp

import xxhash

from inspector.changes import EntryType, FileEntry
from inspector.headerwalk import EMPTY_DIGEST, ESTARGZ_NAMES, FLAGS
from inspector.secrets import CANDIDATE_INFIX, CANDIDATE_SUFFIXES

cdef extern from "Python.h":
    PyObject* PyDict_SetDefault(object mapping, object key, object value) except NULL  # borrowed


cdef enum:
    BLOCK = 512
    MAX_SUM = 512 * 255

cdef object FILE_KIND = EntryType.FILE
cdef object HARDLINK_KIND = EntryType.HARDLINK
cdef object SYMLINK_KIND = EntryType.SYMLINK
cdef object DIR_KIND = EntryType.DIR
cdef object FILE_FLAG = FLAGS[EntryType.FILE]
cdef object HARDLINK_FLAG = FLAGS[EntryType.HARDLINK]
cdef object SYMLINK_FLAG = FLAGS[EntryType.SYMLINK]
cdef object DIR_FLAG = FLAGS[EntryType.DIR]
cdef object EMPTY = EMPTY_DIGEST
cdef object ENTRY = FileEntry
cdef object NEW = tuple.__new__
cdef object XXH = xxhash.xxh3_128_intdigest
cdef frozenset ESTARGZ = frozenset(name.encode() for name in ESTARGZ_NAMES)
cdef tuple SUFFIXES = tuple(suffix.encode() for suffix in CANDIDATE_SUFFIXES)
cdef bytes INFIX = CANDIDATE_INFIX.encode()


cdef inline Py_ssize_t text_length(const char* field, Py_ssize_t width) noexcept nogil:
    """The length of a NUL-terminated text field of `width` bytes."""
    cdef const char* nul = <const char*>memchr(field, 0, width)
    return width if nul == NULL else nul - field


cdef inline bint octal(
    const unsigned char* field, Py_ssize_t width, int64_t empty, int64_t* out
) noexcept nogil:
    """Read an octal field as `int(field.rstrip(b"\\0 ") or EMPTY, 8)` reads it, when it
    is only spaces, then octal digits, then NULs and spaces; False for anything else."""
    cdef Py_ssize_t end = width
    cdef Py_ssize_t i = 0
    cdef int64_t value = 0
    while end > 0 and (field[end - 1] == 0 or field[end - 1] == 32):
        end -= 1
    if end == 0:
        out[0] = empty
        return True
    while i < end and field[i] == 32:
        i += 1
    if i == end:
        return False
    while i < end:
        if field[i] < 48 or field[i] > 55:
            return False
        value = value * 8 + (field[i] - 48)  # at most 12 digits: 36 bits
        i += 1
    out[0] = value
    return True


cdef inline bint plain(const char* name, Py_ssize_t length) noexcept nogil:
    """A name that needs no normalising: not empty, no `.wh.`, `//`, `/./` or `..`, not
    starting with `/` or `./`, not ending with `/.`."""
    cdef Py_ssize_t i
    if length == 0 or name[0] == 47:
        return False
    if length >= 2 and name[0] == 46 and name[1] == 47:
        return False
    if length >= 2 and name[length - 2] == 47 and name[length - 1] == 46:
        return False
    for i in range(length - 1):
        if name[i] == 47 and name[i + 1] == 47:
            return False
        if name[i] == 46 and name[i + 1] == 46:
            return False
        if name[i] == 47 and name[i + 1] == 46 and i + 2 < length and name[i + 2] == 47:
            return False
        if (
            name[i] == 46 and i + 3 < length and name[i + 1] == 119 and name[i + 2] == 104
            and name[i + 3] == 46
        ):
            return False
    return True


cdef bint candidate(const char* path, Py_ssize_t length):
    """The walk's test before it asks `wanted`: does the path end with one of SUFFIXES or
    hold INFIX? On the path's bytes, as the Python walk tests its text: every suffix is
    ASCII, and an ASCII byte of UTF-8 (or surrogateescape) text is that character."""
    cdef bytes suffix
    cdef Py_ssize_t n, i
    cdef const char* infix = PyBytes_AS_STRING(INFIX)
    cdef Py_ssize_t width = PyBytes_GET_SIZE(INFIX)
    for suffix in SUFFIXES:
        n = PyBytes_GET_SIZE(suffix)
        if n <= length and memcmp(path + length - n, PyBytes_AS_STRING(suffix), n) == 0:
            return True
    for i in range(length - width + 1):
        if path[i] == infix[0] and memcmp(path + i, infix, width) == 0:
            return True
    return False


cdef inline str decode(const char* data, Py_ssize_t length):
    return PyUnicode_DecodeUTF8(data, length, "surrogateescape")


def walk(
    bytes buf,
    Py_ssize_t pos,
    max_size,
    dict entries,
    bint ordered,
    store,
    odd,
    wanted,
    check,
):
    cdef const char* base = PyBytes_AS_STRING(buf)
    cdef const unsigned char* header
    cdef Py_ssize_t limit = PyBytes_GET_SIZE(buf)
    cdef Py_ssize_t start, stop, after, name_len, prefix_len, link_len, full_len, i
    cdef int64_t expected, size, mode, uid, gid, mtime, largest
    cdef int64_t total = 0
    cdef long checksum
    cdef char flag
    cdef bint prefixed
    cdef char full[512]
    cdef object kind, path, name, link, digest, entry, content
    cdef object view = memoryview(buf)
    cdef Py_ssize_t keep
    largest = max_size if max_size < (1 << 62) else (1 << 62)
    while pos + BLOCK <= limit:
        header = <const unsigned char*>(base + pos)
        flag = header[156]
        if flag == 48:
            kind = FILE_KIND
        elif flag == 53:
            kind = DIR_KIND
        elif flag == 50:
            kind = SYMLINK_KIND
        elif flag == 49:
            kind = HARDLINK_KIND
        else:
            break
        if not (
            octal(header + 148, 8, -1, &expected)
            and octal(header + 124, 12, 0, &size)
            and octal(header + 100, 8, 0, &mode)
            and octal(header + 108, 8, 0, &uid)
            and octal(header + 116, 8, 0, &gid)
            and octal(header + 136, 12, 0, &mtime)
        ):
            break
        checksum = 8 * 32
        for i in range(148):
            checksum += header[i]
        for i in range(156, BLOCK):
            checksum += header[i]
        if checksum != expected or not 0 <= expected <= MAX_SUM or not 0 <= size <= largest:
            break
        start = pos + BLOCK
        if kind is FILE_KIND:
            stop = start + <Py_ssize_t>size
            after = stop + ((-size) & (BLOCK - 1))
            if after > limit:
                break
        else:
            size = 0
            stop = after = start
        name_len = text_length(<const char*>header, 100)
        prefixed = header[345] != 0 and memcmp(header + 257, b"ustar\x00", 6) == 0
        prefix_len = text_length(<const char*>header + 345, 155) if prefixed else 0
        link_len = text_length(<const char*>header + 157, 100) if header[157] else 0
        link = decode(<const char*>header + 157, link_len) if link_len else ""
        mode &= 0o7777
        total += size
        pos = after
        full_len = 0
        if prefixed:
            for i in range(prefix_len):
                full[i] = header[345 + i]
            full[prefix_len] = 47
            full_len = prefix_len + 1
        for i in range(name_len):
            full[full_len + i] = header[i]
        full_len += name_len
        if kind is not HARDLINK_KIND and plain(full, full_len):
            while full_len > 0 and full[full_len - 1] == 47:
                full_len -= 1
            if not (17 <= full_len <= 21 and full[:full_len] in ESTARGZ):
                path = decode(full, full_len) if not prefixed else (
                    decode(<const char*>header + 345, prefix_len) + "/"
                    + decode(<const char*>header, name_len)
                ).rstrip("/")
                digest = 0
                if kind is FILE_KIND:
                    if size:
                        content = view[start:stop]
                        digest = XXH(content)
                        if candidate(full, full_len):
                            keep = wanted(path, size)
                            if keep:
                                check(path, content[:keep])
                    else:
                        digest = EMPTY
                entry = NEW(ENTRY, (path, kind, size, mode, uid, gid, mtime, link, digest))
                if ordered or PyDict_SetDefault(entries, path, entry) != <PyObject*>entry:
                    store(entry)  # (a path seen before: `store` replaces it in order)
                    ordered = True
                continue
        if prefixed:
            name = decode(<const char*>header + 345, prefix_len) + "/" + decode(
                <const char*>header, name_len
            )
        else:
            name = decode(<const char*>header, name_len)
        if kind is FILE_KIND:
            content = view[start:stop]
            ordered = odd(name, FILE_FLAG, size, mode, uid, gid, mtime, link, content)
        elif kind is DIR_KIND:
            ordered = odd(name, DIR_FLAG, size, mode, uid, gid, mtime, link, None)
        elif kind is SYMLINK_KIND:
            ordered = odd(name, SYMLINK_FLAG, size, mode, uid, gid, mtime, link, None)
        else:
            ordered = odd(name, HARDLINK_FLAG, size, mode, uid, gid, mtime, link, None)
    return pos, total
