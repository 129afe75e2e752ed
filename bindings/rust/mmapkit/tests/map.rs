// The safe binding against the real library, after memmap2's own tests (src/lib.rs):
// zero-length files, offsets, flush ranges, copy-on-write, anonymous shared memory
// across fork, and what is particular to mmapkit (errors, kinds, drop).
use mmapkit::{flags, errno, Kind, Map, Sync};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::var_os("TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    dir.join(format!("mmapkit-rs-{}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst), name))
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8 + 1
}

fn file_with(len: usize) -> PathBuf {
    let p = scratch("data");
    let bytes: Vec<u8> = (0..len).map(pattern).collect();
    fs::write(&p, bytes).unwrap();
    p
}

fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn zero_length_file_is_an_empty_map() {
    let p = file_with(0);
    let m = Map::file_private(&p, 0, 0, 0).unwrap();
    assert_eq!(m.len(), 0);
    assert!(m.is_empty());
    assert_eq!(&m[..], &[] as &[u8]);
    let s = Map::file_shared(&p, 0, 0, 0).unwrap();
    assert!(s.is_empty());
    fs::remove_file(p).unwrap();
}

#[test]
fn anonymous_zero_length_is_einval_with_a_message() {
    let e = Map::anon_private(0, 0).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EINVAL));
    assert!(e.to_string().contains("mmapkit_anon_private"), "{}", e);
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn missing_file_is_not_found() {
    let e = Map::file_shared(scratch("missing"), 0, 0, 0).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(errno(&e), Some(libc::ENOENT));
}

#[test]
fn offsets_need_no_alignment() {
    let p = file_with(3 * 4096);
    for off in [0usize, 1, 4095, 4096, 5000] {
        let m = Map::file_private(&p, off as u64, 100, 0).unwrap();
        assert_eq!(m.offset(), off as u64);
        assert_eq!(m.len(), 100);
        let want: Vec<u8> = (off..off + 100).map(pattern).collect();
        assert_eq!(&m[..], &want[..], "offset {}", off);
    }
    // Past end of file without GROW: ERANGE, never SIGBUS later.
    let e = Map::file_shared(&p, 3 * 4096 - 10, 20, 0).unwrap_err();
    assert_eq!(errno(&e), Some(libc::ERANGE));
    fs::remove_file(p).unwrap();
}

#[test]
fn flush_ranges() {
    let p = scratch("flush");
    let mut m = Map::file_shared(&p, 0, 3 * 4096, flags::CREATE | flags::GROW).unwrap();
    m[4096..4106].copy_from_slice(b"0123456789");
    m.sync(4096, Some(10), Sync::Wait).unwrap();
    m.sync(0, Some(0), Sync::Wait).unwrap(); // an empty range
    m.sync(0, None, Sync::Async).unwrap();
    m.sync(0, None, Sync::Full).unwrap();
    let e = m.sync(3 * 4096, Some(1), Sync::Wait).unwrap_err();
    assert_eq!(errno(&e), Some(libc::ERANGE));
    let mut got = vec![0u8; 10];
    let mut f = File::open(&p).unwrap();
    f.read_exact(&mut [0u8; 4096]).unwrap();
    f.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"0123456789");
    fs::remove_file(p).unwrap();
}

#[test]
fn private_file_mapping_is_copy_on_write() {
    let p = file_with(8192);
    let mut m = Map::file_private(&p, 0, 0, 0).unwrap();
    assert_eq!(m.kind(), Kind::FilePrivate);
    m[..5].copy_from_slice(b"hello");
    assert_eq!(&m[..5], b"hello");
    let on_disk = fs::read(&p).unwrap();
    assert_eq!(on_disk[0], pattern(0), "a private write reached the file");
    // Sync does not apply to a private mapping.
    assert_eq!(errno(&m.sync(0, None, Sync::Wait).unwrap_err()), Some(libc::EINVAL));
    m.revert(0, None).unwrap();
    assert_eq!(m[0], pattern(0));
    fs::remove_file(p).unwrap();
}

#[test]
fn shared_file_writes_reach_the_file() {
    let p = file_with(4096);
    let f = OpenOptions::new().read(true).write(true).open(&p).unwrap();
    let mut m = Map::fd_shared(&f, 0, 0, 0).unwrap();
    m[10] = 0;
    let on_disk = fs::read(&p).unwrap();
    assert_eq!(on_disk[10], 0);
    // The handle owns a duplicate: the caller's descriptor stays open and usable.
    drop(m);
    (&f).write_all(b"x").unwrap();
    fs::remove_file(p).unwrap();
}

#[test]
fn read_only_handles_hand_out_no_mutable_view() {
    let p = file_with(4096);
    let mut m = Map::file_shared(&p, 0, 0, flags::RDONLY).unwrap();
    assert!(m.as_mut_slice().is_none());
    assert_eq!(errno(&m.punch(0, None).unwrap_err()), Some(libc::EACCES));
    assert_eq!(m[0], pattern(0));
    fs::remove_file(p).unwrap();
}

#[test]
fn punch_zeroes_and_revert_restores() {
    let mut m = Map::anon_private(4 * 4096, 0).unwrap();
    m.iter_mut().for_each(|b| *b = 7);
    m.punch(100, Some(2 * 4096)).unwrap();
    assert!(m[100..100 + 2 * 4096].iter().all(|&b| b == 0));
    assert_eq!(m[99], 7);
    assert_eq!(m[100 + 2 * 4096], 7);
    // len 0 is an empty range: nothing punched.
    m.punch(0, Some(0)).unwrap();
    assert_eq!(m[0], 7);
}

#[test]
fn anonymous_shared_memory_across_fork() {
    let mut shared = Map::anon_shared(4096, 0).unwrap();
    let mut private = Map::anon_private(4096, 0).unwrap();
    shared[0] = 1;
    private[0] = 1;
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        shared[0] = 42;
        private[0] = 42;
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert_eq!(shared[0], 42, "the child's write to shared memory is not seen");
    assert_eq!(private[0], 1, "the child's write to private memory leaked");
}

#[test]
fn drop_releases_the_descriptor() {
    let p = file_with(4096);
    let before = open_fds();
    let m = Map::file_shared(&p, 0, 0, 0).unwrap();
    assert!(m.fd() >= 0);
    assert_eq!(open_fds(), before + 1);
    drop(m);
    assert_eq!(open_fds(), before);
    fs::remove_file(p).unwrap();
}

#[test]
fn a_map_moves_to_another_thread() {
    let mut m = Map::anon_private(4096, 0).unwrap();
    m[0] = 9;
    let m = std::thread::spawn(move || {
        let mut m = m;
        m[1] = 10;
        m
    })
    .join()
    .unwrap();
    assert_eq!(&m[..2], &[9, 10]);
}

#[test]
fn version_and_page_size() {
    assert!(mmapkit::version().starts_with("0."));
    assert_eq!(mmapkit::page_size(), unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize);
}
