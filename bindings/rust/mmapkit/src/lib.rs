//! Typed memory-mapping handles for Linux: a safe binding of `libmmapkit.so.0`.
//!
//! One owning type, [`Map`], serves the four kinds of mapping.  It unmaps on drop;
//! the byte views it hands out (`Deref<Target = [u8]>`, [`Map::as_mut_slice`]) borrow
//! it, so they cannot outlive the mapping.  Errors are `std::io::Error`s carrying the
//! library's message; [`errno`] recovers the errno.
//!
//! Threads (mmapkit(7)): a `Map` may move to another thread (`Send`), but is not
//! `Sync`: the library allows no call that changes a handle concurrently with another
//! call on it, which `&mut self` on every such method enforces.
use std::ffi::{CStr, CString};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::Path;
use std::ptr::NonNull;

pub use mmapkit_sys as sys;

/// Constructor flags (`MMAPKIT_*`).
pub mod flags {
    pub use mmapkit_sys::{
        MMAPKIT_CREATE as CREATE, MMAPKIT_DONTDUMP as DONTDUMP, MMAPKIT_DONTFORK as DONTFORK,
        MMAPKIT_GROW as GROW, MMAPKIT_GUARD as GUARD, MMAPKIT_HUGETLB as HUGETLB,
        MMAPKIT_LOCK as LOCK, MMAPKIT_NORESERVE as NORESERVE, MMAPKIT_POPULATE as POPULATE,
        MMAPKIT_RDONLY as RDONLY, MMAPKIT_THP as THP, MMAPKIT_WIPEONFORK as WIPEONFORK,
    };
}

/// The four kinds of mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    AnonPrivate,
    AnonShared,
    FilePrivate,
    FileShared,
}

/// How `Map::sync` writes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Write the dirty pages back and wait.
    Wait,
    /// Start the write-back now and return.
    Async,
    /// Also make size, metadata and a created file's directory entry durable.
    Full,
}

/// Advice for `Map::advise` (the header's `MMAPKIT_ADV_*`).
pub type Advice = i32;
pub use mmapkit_sys::{
    MMAPKIT_ADV_COLD as ADV_COLD, MMAPKIT_ADV_DODUMP as ADV_DODUMP,
    MMAPKIT_ADV_DOFORK as ADV_DOFORK, MMAPKIT_ADV_DONTDUMP as ADV_DONTDUMP,
    MMAPKIT_ADV_DONTFORK as ADV_DONTFORK, MMAPKIT_ADV_DONTNEED as ADV_DONTNEED,
    MMAPKIT_ADV_FREE as ADV_FREE, MMAPKIT_ADV_HUGEPAGE as ADV_HUGEPAGE,
    MMAPKIT_ADV_KEEPONFORK as ADV_KEEPONFORK, MMAPKIT_ADV_NOHUGEPAGE as ADV_NOHUGEPAGE,
    MMAPKIT_ADV_NORMAL as ADV_NORMAL, MMAPKIT_ADV_PAGEOUT as ADV_PAGEOUT,
    MMAPKIT_ADV_POPULATE_READ as ADV_POPULATE_READ,
    MMAPKIT_ADV_POPULATE_WRITE as ADV_POPULATE_WRITE, MMAPKIT_ADV_RANDOM as ADV_RANDOM,
    MMAPKIT_ADV_REMOVE as ADV_REMOVE, MMAPKIT_ADV_SEQUENTIAL as ADV_SEQUENTIAL,
    MMAPKIT_ADV_WILLNEED as ADV_WILLNEED, MMAPKIT_ADV_WIPEONFORK as ADV_WIPEONFORK,
    MMAPKIT_PROT_EXEC as PROT_EXEC, MMAPKIT_PROT_NONE as PROT_NONE,
    MMAPKIT_PROT_READ as PROT_READ, MMAPKIT_PROT_WRITE as PROT_WRITE,
};

/// The error behind an `io::Error` from this crate: the errno and the library's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub errno: i32,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (errno {})", self.message, self.errno)
    }
}

impl std::error::Error for Error {}

/// The errno of an error this crate returned (or of any OS error).
pub fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| e.get_ref()?.downcast_ref::<Error>().map(|x| x.errno))
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret >= 0 {
        return Ok(());
    }
    let errno = -ret;
    // Read on this thread, right after the call: the text is thread-local.
    let message = unsafe { CStr::from_ptr(sys::mmapkit_errmsg()) }.to_string_lossy().into_owned();
    let kind = io::Error::from_raw_os_error(errno).kind();
    Err(io::Error::new(kind, Error { errno, message }))
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn range_len(len: Option<usize>) -> usize {
    len.unwrap_or(sys::MMAPKIT_TO_END)
}

/// An owning mapping handle; unmapped (mapping, descriptor, handle) when dropped.
pub struct Map {
    raw: NonNull<sys::mmapkit_map>,
    _not_sync: PhantomData<*mut ()>,
}

// A handle may be used from another thread, one thread at a time (mmapkit(7)).
unsafe impl Send for Map {}

impl Map {
    fn from_ctor(f: impl FnOnce(*mut *mut sys::mmapkit_map) -> libc::c_int) -> io::Result<Map> {
        let mut out: *mut sys::mmapkit_map = std::ptr::null_mut();
        check(f(&mut out))?;
        let raw = NonNull::new(out).expect("mmapkit returned 0 and no handle");
        Ok(Map { raw, _not_sync: PhantomData })
    }

    /// Zero-filled private memory.
    pub fn anon_private(len: usize, flags: u32) -> io::Result<Map> {
        Map::from_ctor(|out| unsafe { sys::mmapkit_anon_private(out, len, flags) })
    }

    /// Zero-filled memory shared with fork() children.
    pub fn anon_shared(len: usize, flags: u32) -> io::Result<Map> {
        Map::from_ctor(|out| unsafe { sys::mmapkit_anon_shared(out, len, flags) })
    }

    /// Copy-on-write view of `path` at `[offset, offset + len)`; len 0 = to end of file.
    pub fn file_private<P: AsRef<Path>>(path: P, offset: u64, len: usize, flags: u32) -> io::Result<Map> {
        let p = c_path(path.as_ref())?;
        Map::from_ctor(|out| unsafe { sys::mmapkit_file_private(out, p.as_ptr(), offset, len, flags) })
    }

    /// Shared view of `path`: writes reach the file and every other mapping of it.
    pub fn file_shared<P: AsRef<Path>>(path: P, offset: u64, len: usize, flags: u32) -> io::Result<Map> {
        let p = c_path(path.as_ref())?;
        Map::from_ctor(|out| unsafe { sys::mmapkit_file_shared(out, p.as_ptr(), offset, len, flags) })
    }

    /// As `file_private`, over a duplicate of `fd` (the caller keeps its own).
    pub fn fd_private<F: AsRawFd>(fd: &F, offset: u64, len: usize, flags: u32) -> io::Result<Map> {
        let fd: RawFd = fd.as_raw_fd();
        Map::from_ctor(|out| unsafe { sys::mmapkit_fd_private(out, fd, offset, len, flags) })
    }

    /// As `file_shared`, over a duplicate of `fd` (the caller keeps its own).
    pub fn fd_shared<F: AsRawFd>(fd: &F, offset: u64, len: usize, flags: u32) -> io::Result<Map> {
        let fd: RawFd = fd.as_raw_fd();
        Map::from_ctor(|out| unsafe { sys::mmapkit_fd_shared(out, fd, offset, len, flags) })
    }

    fn raw(&self) -> *mut sys::mmapkit_map {
        self.raw.as_ptr()
    }

    /// Bytes in the range.
    pub fn len(&self) -> usize {
        unsafe { sys::mmapkit_len(self.raw()) }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn kind(&self) -> Kind {
        match unsafe { sys::mmapkit_kind(self.raw()) } {
            sys::MMAPKIT_ANON_PRIVATE => Kind::AnonPrivate,
            sys::MMAPKIT_ANON_SHARED => Kind::AnonShared,
            sys::MMAPKIT_FILE_PRIVATE => Kind::FilePrivate,
            _ => Kind::FileShared,
        }
    }

    /// The constructor flags.
    pub fn flags(&self) -> u32 {
        unsafe { sys::mmapkit_flags(self.raw()) }
    }

    /// File offset of the first byte; 0 for anonymous kinds.
    pub fn offset(&self) -> u64 {
        unsafe { sys::mmapkit_offset(self.raw()) }
    }

    /// The descriptor the handle owns (do not close it); -1 for anonymous kinds.
    pub fn fd(&self) -> RawFd {
        unsafe { sys::mmapkit_fd(self.raw()) }
    }

    pub fn as_ptr(&self) -> *const u8 {
        unsafe { sys::mmapkit_ptr(self.raw()) as *const u8 }
    }

    /// The bytes, writable, unless the handle is read-only (`None` then).
    ///
    /// The pages must be writable: `protect` is unsafe for that reason.
    pub fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if self.flags() & sys::MMAPKIT_RDONLY != 0 {
            return None;
        }
        let len = self.len();
        let p = unsafe { sys::mmapkit_ptr(self.raw()) as *mut u8 };
        Some(unsafe { std::slice::from_raw_parts_mut(p, len) })
    }

    /// MMAPKIT_FILE_SHARED: write the range back (`len` None = to the end).
    pub fn sync(&mut self, off: usize, len: Option<usize>, how: Sync) -> io::Result<()> {
        let how = match how {
            Sync::Wait => 0,
            Sync::Async => sys::MMAPKIT_SYNC_ASYNC,
            Sync::Full => sys::MMAPKIT_SYNC_FULL,
        };
        check(unsafe { sys::mmapkit_sync(self.raw(), off, range_len(len), how) })
    }

    /// madvise with an `ADV_*` value, checked against the kind.
    pub fn advise(&mut self, off: usize, len: Option<usize>, advice: Advice) -> io::Result<()> {
        check(unsafe { sys::mmapkit_advise(self.raw(), off, range_len(len), advice) })
    }

    /// Zero the range and release the memory (and file blocks) behind its whole pages.
    pub fn punch(&mut self, off: usize, len: Option<usize>) -> io::Result<()> {
        check(unsafe { sys::mmapkit_punch(self.raw(), off, range_len(len)) })
    }

    /// Private kinds: discard this process's changes.
    pub fn revert(&mut self, off: usize, len: Option<usize>) -> io::Result<()> {
        check(unsafe { sys::mmapkit_revert(self.raw(), off, range_len(len)) })
    }

    /// Change the protection of the pages holding the range (`PROT_*`).
    ///
    /// # Safety
    /// Pages made unreadable (or unwritable) fault when the slices this handle hands
    /// out are read (or written): the caller must not touch them until it restores them.
    pub unsafe fn protect(&mut self, off: usize, len: Option<usize>, prot: u32) -> io::Result<()> {
        check(sys::mmapkit_protect(self.raw(), off, range_len(len), prot))
    }

    /// Lock the pages holding the range in RAM (`on_fault`: as they are first touched).
    pub fn lock(&mut self, off: usize, len: Option<usize>, on_fault: bool) -> io::Result<()> {
        let how = if on_fault { sys::MMAPKIT_LOCK_ONFAULT } else { 0 };
        check(unsafe { sys::mmapkit_lock(self.raw(), off, range_len(len), how) })
    }

    pub fn unlock(&mut self, off: usize, len: Option<usize>) -> io::Result<()> {
        check(unsafe { sys::mmapkit_unlock(self.raw(), off, range_len(len)) })
    }
}

impl Deref for Map {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len()) }
    }
}

/// Writable view; panics on a read-only handle (use `as_mut_slice` to ask).
impl DerefMut for Map {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice().expect("mmapkit: the handle is MMAPKIT_RDONLY")
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        unsafe { sys::mmapkit_unmap(self.raw()) }
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("kind", &self.kind())
            .field("ptr", &self.as_ptr())
            .field("len", &self.len())
            .field("offset", &self.offset())
            .field("fd", &self.fd())
            .finish()
    }
}

/// The system page size.
pub fn page_size() -> usize {
    unsafe { sys::mmapkit_page_size() }
}

/// The library's version string.
pub fn version() -> &'static str {
    unsafe { CStr::from_ptr(sys::mmapkit_version()) }.to_str().unwrap_or("?")
}
