//! Raw declarations of `libmmapkit.so.0` (include/mmapkit.h), one to one.
//!
//! Every call that can fail returns 0 or a negative errno; constructors return the
//! handle through `out`.  The safe API is the `mmapkit` crate.
#![allow(non_camel_case_types)]

use libc::{c_char, c_int, c_uint, c_void, size_t};

/// The opaque handle.
#[repr(C)]
pub struct mmapkit_map {
    _opaque: [u8; 0],
}

/// `struct mmapkit_opts` as this binding knows it (`sz` first; fields only appended).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct mmapkit_opts {
    pub sz: size_t,
    pub kind: c_int,
    pub flags: c_uint,
    pub path: *const c_char,
    pub fd: c_int,
    pub mode: u32,
    pub offset: u64,
    pub len: size_t,
}

/// `struct mmapkit_stats` (`mmapkit_stats(3)`): set `sz`, the rest is filled in.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct mmapkit_stats {
    pub sz: size_t,
    pub mapped: u64,
    pub rss: u64,
    pub pss: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub anonymous: u64,
    pub swap: u64,
    pub locked: u64,
    pub huge: u64,
    pub cached: u64,
    pub cache_dirty: u64,
    pub cache_writeback: u64,
}

pub const MMAPKIT_RESIZE_NOMOVE: c_uint = 0x1;

pub const MMAPKIT_ANON_PRIVATE: c_int = 1;
pub const MMAPKIT_ANON_SHARED: c_int = 2;
pub const MMAPKIT_FILE_PRIVATE: c_int = 3;
pub const MMAPKIT_FILE_SHARED: c_int = 4;

pub const MMAPKIT_RDONLY: c_uint = 0x0001;
pub const MMAPKIT_CREATE: c_uint = 0x0002;
pub const MMAPKIT_GROW: c_uint = 0x0004;
pub const MMAPKIT_POPULATE: c_uint = 0x0008;
pub const MMAPKIT_NORESERVE: c_uint = 0x0010;
pub const MMAPKIT_LOCK: c_uint = 0x0020;
pub const MMAPKIT_HUGETLB: c_uint = 0x0040;
pub const MMAPKIT_THP: c_uint = 0x0080;
pub const MMAPKIT_DONTFORK: c_uint = 0x0100;
pub const MMAPKIT_WIPEONFORK: c_uint = 0x0200;
pub const MMAPKIT_DONTDUMP: c_uint = 0x0400;
pub const MMAPKIT_GUARD: c_uint = 0x0800;
pub const MMAPKIT_ALLOCATE: c_uint = 0x1000;
pub const MMAPKIT_SECURE: c_uint = 0x2000;
pub const MMAPKIT_SECRET: c_uint = 0x4000;

pub const MMAPKIT_SYNC_ASYNC: c_uint = 0x1;
pub const MMAPKIT_SYNC_INVALIDATE: c_uint = 0x2;
pub const MMAPKIT_SYNC_FULL: c_uint = 0x4;

pub const MMAPKIT_ADV_NORMAL: c_int = 0;
pub const MMAPKIT_ADV_RANDOM: c_int = 1;
pub const MMAPKIT_ADV_SEQUENTIAL: c_int = 2;
pub const MMAPKIT_ADV_WILLNEED: c_int = 3;
pub const MMAPKIT_ADV_DONTNEED: c_int = 4;
pub const MMAPKIT_ADV_FREE: c_int = 5;
pub const MMAPKIT_ADV_REMOVE: c_int = 6;
pub const MMAPKIT_ADV_HUGEPAGE: c_int = 7;
pub const MMAPKIT_ADV_NOHUGEPAGE: c_int = 8;
pub const MMAPKIT_ADV_DONTDUMP: c_int = 9;
pub const MMAPKIT_ADV_DODUMP: c_int = 10;
pub const MMAPKIT_ADV_DONTFORK: c_int = 11;
pub const MMAPKIT_ADV_DOFORK: c_int = 12;
pub const MMAPKIT_ADV_WIPEONFORK: c_int = 13;
pub const MMAPKIT_ADV_KEEPONFORK: c_int = 14;
pub const MMAPKIT_ADV_COLD: c_int = 15;
pub const MMAPKIT_ADV_PAGEOUT: c_int = 16;
pub const MMAPKIT_ADV_POPULATE_READ: c_int = 17;
pub const MMAPKIT_ADV_POPULATE_WRITE: c_int = 18;

pub const MMAPKIT_PROT_NONE: c_uint = 0x0;
pub const MMAPKIT_PROT_READ: c_uint = 0x1;
pub const MMAPKIT_PROT_WRITE: c_uint = 0x2;
pub const MMAPKIT_PROT_EXEC: c_uint = 0x4;

pub const MMAPKIT_LOCK_ONFAULT: c_uint = 0x1;

pub const MMAPKIT_SEAL_SHRINK: c_uint = 0x1;
pub const MMAPKIT_SEAL_GROW: c_uint = 0x2;
pub const MMAPKIT_SEAL_WRITE: c_uint = 0x4;
pub const MMAPKIT_SEAL_FUTURE_WRITE: c_uint = 0x8;
pub const MMAPKIT_SEAL_SEAL: c_uint = 0x10;

pub const MMAPKIT_TO_END: size_t = size_t::MAX;

extern "C" {
    pub fn mmapkit_anon_private(out: *mut *mut mmapkit_map, len: size_t, flags: c_uint) -> c_int;
    pub fn mmapkit_anon_shared(out: *mut *mut mmapkit_map, len: size_t, flags: c_uint) -> c_int;
    pub fn mmapkit_file_private(
        out: *mut *mut mmapkit_map,
        path: *const c_char,
        offset: u64,
        len: size_t,
        flags: c_uint,
    ) -> c_int;
    pub fn mmapkit_file_shared(
        out: *mut *mut mmapkit_map,
        path: *const c_char,
        offset: u64,
        len: size_t,
        flags: c_uint,
    ) -> c_int;
    pub fn mmapkit_fd_private(
        out: *mut *mut mmapkit_map,
        fd: c_int,
        offset: u64,
        len: size_t,
        flags: c_uint,
    ) -> c_int;
    pub fn mmapkit_fd_shared(
        out: *mut *mut mmapkit_map,
        fd: c_int,
        offset: u64,
        len: size_t,
        flags: c_uint,
    ) -> c_int;
    pub fn mmapkit_map_new(out: *mut *mut mmapkit_map, opts: *const mmapkit_opts) -> c_int;
    pub fn mmapkit_unmap(m: *mut mmapkit_map);

    pub fn mmapkit_ptr(m: *const mmapkit_map) -> *mut c_void;
    pub fn mmapkit_len(m: *const mmapkit_map) -> size_t;
    pub fn mmapkit_kind(m: *const mmapkit_map) -> c_int;
    pub fn mmapkit_flags(m: *const mmapkit_map) -> c_uint;
    pub fn mmapkit_offset(m: *const mmapkit_map) -> u64;
    pub fn mmapkit_fd(m: *const mmapkit_map) -> c_int;
    pub fn mmapkit_at(m: *const mmapkit_map, off: size_t, size: size_t, align: size_t) -> *mut c_void;
    pub fn mmapkit_page_size() -> size_t;
    pub fn mmapkit_version() -> *const c_char;

    pub fn mmapkit_sync(m: *mut mmapkit_map, off: size_t, len: size_t, how: c_uint) -> c_int;
    pub fn mmapkit_advise(m: *mut mmapkit_map, off: size_t, len: size_t, advice: c_int) -> c_int;
    pub fn mmapkit_punch(m: *mut mmapkit_map, off: size_t, len: size_t) -> c_int;
    pub fn mmapkit_revert(m: *mut mmapkit_map, off: size_t, len: size_t) -> c_int;
    pub fn mmapkit_protect(m: *mut mmapkit_map, off: size_t, len: size_t, prot: c_uint) -> c_int;
    pub fn mmapkit_lock(m: *mut mmapkit_map, off: size_t, len: size_t, how: c_uint) -> c_int;
    pub fn mmapkit_unlock(m: *mut mmapkit_map, off: size_t, len: size_t) -> c_int;

    pub fn mmapkit_memfd(
        out: *mut *mut mmapkit_map,
        name: *const c_char,
        len: size_t,
        flags: c_uint,
    ) -> c_int;
    pub fn mmapkit_shm_create(
        out: *mut *mut mmapkit_map,
        name: *const c_char,
        len: size_t,
        flags: c_uint,
    ) -> c_int;
    pub fn mmapkit_shm_open(
        out: *mut *mut mmapkit_map,
        name: *const c_char,
        offset: u64,
        len: size_t,
        flags: c_uint,
    ) -> c_int;
    pub fn mmapkit_shm_unlink(name: *const c_char) -> c_int;
    pub fn mmapkit_seal(m: *mut mmapkit_map, seals: c_uint) -> c_int;
    pub fn mmapkit_seals(m: *const mmapkit_map) -> c_uint;
    pub fn mmapkit_send(m: *const mmapkit_map, sock: c_int) -> c_int;
    pub fn mmapkit_receive(
        out: *mut *mut mmapkit_map,
        sock: c_int,
        required_seals: c_uint,
        flags: c_uint,
    ) -> c_int;
    pub fn mmapkit_ring(out: *mut *mut mmapkit_map, len: size_t, flags: c_uint) -> c_int;
    pub fn mmapkit_read(m: *const mmapkit_map, off: size_t, buf: *mut c_void, n: size_t) -> c_int;
    pub fn mmapkit_write(m: *mut mmapkit_map, off: size_t, buf: *const c_void, n: size_t) -> c_int;
    pub fn mmapkit_resize(m: *mut mmapkit_map, new_len: size_t, flags: c_uint) -> c_int;
    pub fn mmapkit_resident(
        m: *const mmapkit_map,
        off: size_t,
        len: size_t,
        bytes: *mut u64,
        vec: *mut u8,
    ) -> c_int;
    pub fn mmapkit_stats(m: *const mmapkit_map, st: *mut mmapkit_stats) -> c_int;
    pub fn mmapkit_name(m: *mut mmapkit_map, name: *const c_char) -> c_int;

    pub fn mmapkit_errmsg() -> *const c_char;
    pub fn mmapkit_strerror(err: c_int) -> *const c_char;
}

#[cfg(test)]
mod tests {
    /// Every function and constant the header declares is declared here, with the
    /// header's value: the binding cannot silently fall behind the header.
    #[test]
    fn matches_the_header() {
        let header = include_str!("../../../../include/mmapkit.h");
        let me = include_str!("lib.rs");
        for line in header.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("MMAPKIT_API ") {
                let name = rest
                    .split('(')
                    .next()
                    .unwrap()
                    .rsplit(|c: char| c == ' ' || c == '*')
                    .next()
                    .unwrap();
                assert!(me.contains(&format!("pub fn {}(", name)), "{} is not declared", name);
            }
            if let Some(rest) = line.strip_prefix("#define MMAPKIT_") {
                let mut it = rest.split_whitespace();
                let name = format!("MMAPKIT_{}", it.next().unwrap());
                let value = it.next().unwrap_or("");
                if name.contains('(') || name.starts_with("MMAPKIT_VERSION") || name == "MMAPKIT_API"
                    || name == "MMAPKIT_H" || value.is_empty() || value.starts_with('(')
                    || value.starts_with("__")
                {
                    continue;
                }
                let v = value.trim_end_matches('u');
                let want: i64 = if let Some(h) = v.strip_prefix("0x") {
                    i64::from_str_radix(h, 16).unwrap()
                } else {
                    v.parse().unwrap()
                };
                let decl = me
                    .lines()
                    .find(|l| l.starts_with(&format!("pub const {}:", name)))
                    .unwrap_or_else(|| panic!("{} is not declared", name));
                let got = decl.rsplit('=').next().unwrap().trim().trim_end_matches(';');
                let got: i64 = if let Some(h) = got.strip_prefix("0x") {
                    i64::from_str_radix(h, 16).unwrap()
                } else {
                    got.parse().unwrap()
                };
                assert_eq!(got, want, "{}", name);
            }
            if let Some(rest) = line.strip_prefix("MMAPKIT_") {
                // enum mmapkit_kind members: "MMAPKIT_ANON_PRIVATE = 1, ..."
                if let Some((name, value)) = rest.split_once(" = ") {
                    let want: i64 = value.split(',').next().unwrap().trim().parse().unwrap();
                    let decl = format!("pub const MMAPKIT_{}: c_int = {};", name, want);
                    assert!(me.contains(&decl), "{} missing or different", decl);
                }
            }
        }
    }
}
