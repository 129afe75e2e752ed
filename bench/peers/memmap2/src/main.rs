// SPDX-License-Identifier: MIT
//! Peer for mmapkit_bench: the Rust memmap2 crate, built offline against Debian's
//! librust-memmap2-dev (see .cargo/config.toml).
//!
//!   memmap2_bench serve        answer the commands of bench/peer.c on stdin
//!   memmap2_bench count FILE   run each operation between the counter's marker system
//!                              calls (bench/syscount.c); FILE holds 64 KiB
//!
//! Only what memmap2 offers is measured, written the way its documentation shows.
use memmap2::{Advice, Mmap, MmapMut, MmapOptions};
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};

const SZ: usize = 64 * 1024;
const MARK_BEGIN: libc::c_long = 0x4d4b00;
const MARK_END: libc::c_long = 0x4d4b01;
const MARK_ERR: libc::c_long = 0x4d4b02;

fn mark(nr: libc::c_long, arg: Option<&CString>) {
    let p = arg.map_or(std::ptr::null(), |s| s.as_ptr());
    unsafe {
        libc::syscall(nr, p);
    }
}

/// The same arithmetic as bench/util.c sum64: wrapping sum of the 64-bit words.
fn sum64(b: &[u8]) -> u64 {
    let (pre, mid, post) = unsafe { b.align_to::<u64>() };
    assert!(pre.is_empty(), "a mapping is page aligned");
    let mut s = [0u64; 4];
    let chunks = mid.chunks_exact(4);
    let rem = chunks.remainder();
    for c in chunks {
        s[0] = s[0].wrapping_add(c[0]);
        s[1] = s[1].wrapping_add(c[1]);
        s[2] = s[2].wrapping_add(c[2]);
        s[3] = s[3].wrapping_add(c[3]);
    }
    let mut t = s[0].wrapping_add(s[1]).wrapping_add(s[2]).wrapping_add(s[3]);
    for w in rem {
        t = t.wrapping_add(*w);
    }
    let mut tail = [0u8; 8];
    tail[..post.len()].copy_from_slice(post);
    t.wrapping_add(u64::from_le_bytes(tail))
}

/// CPU time of this thread in ns, as bench/harness.c measures it.
fn now_ns() -> u128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn rw(path: &str) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

// ---- count mode ----

type Whole = fn(&str, &File) -> io::Result<()>;

fn whole_ops() -> Vec<(&'static str, Whole)> {
    vec![
        ("anon-private create+unmap", |_, _| MmapMut::map_anon(SZ).map(drop)),
        ("file-shared map+unmap", |p, _| {
            let f = rw(p)?;
            unsafe { MmapMut::map_mut(&f) }.map(drop)
        }),
        ("file-private map+unmap", |p, _| {
            let f = File::open(p)?;
            unsafe { MmapOptions::new().map_copy(&f) }.map(drop)
        }),
        ("file-shared RDONLY map+unmap", |p, _| {
            let f = File::open(p)?;
            unsafe { Mmap::map(&f) }.map(drop)
        }),
        ("fd-shared map+unmap", |_, f| unsafe { MmapMut::map_mut(f) }.map(drop)),
        ("flag POPULATE (file-shared)", |p, _| {
            let f = rw(p)?;
            unsafe { MmapOptions::new().populate().map_mut(&f) }.map(drop)
        }),
    ]
}

/// What an operation leaves alive: dropped (unmapped) only after the end marker.
enum Held {
    Mut(MmapMut),
    Ro(Mmap),
    Gone,
}

type Ranged = fn(MmapMut) -> (io::Result<()>, Held);

/// (name, maps the file (else anonymous), operation on the live mapping)
fn ranged_ops() -> Vec<(&'static str, bool, Ranged)> {
    vec![
        ("sync", true, |m| (m.flush(), Held::Mut(m))),
        ("sync ASYNC", true, |m| (m.flush_async(), Held::Mut(m))),
        ("advise SEQUENTIAL", false, |m| (m.advise(Advice::Sequential), Held::Mut(m))),
        ("advise DONTNEED", false, |m| (m.advise(Advice::DontNeed), Held::Mut(m))),
        ("advise WILLNEED", true, |m| (m.advise(Advice::WillNeed), Held::Mut(m))),
        ("protect READ", false, |m| match m.make_read_only() {
            Ok(r) => (Ok(()), Held::Ro(r)),
            Err(e) => (Err(e), Held::Gone),
        }),
        ("lock", false, |mut m| (m.lock(), Held::Mut(m))),
        ("unlock", false, |mut m| (m.unlock(), Held::Mut(m))),
    ]
}

fn tagged(name: &str) -> CString {
    CString::new(format!("memmap2|{}", name)).unwrap()
}

fn report(r: io::Result<()>) {
    if let Err(e) = r {
        mark(MARK_ERR, Some(&CString::new(e.to_string()).unwrap()));
    }
}

fn count_ranged(path: &str, name: &str, file: bool, op: Ranged) -> io::Result<()> {
    let mut m = if file {
        let f = rw(path)?;
        unsafe { MmapMut::map_mut(&f) }?
    } else {
        MmapMut::map_anon(SZ)?
    };
    m[0] = 1;
    if name == "unlock" {
        m.lock()?;
    }
    let tag = tagged(name);
    mark(MARK_BEGIN, Some(&tag));
    let (r, held) = op(m);
    report(r);
    mark(MARK_END, None);
    drop(held);
    Ok(())
}

fn count(path: &str) -> io::Result<()> {
    let fd_file = rw(path)?;
    for _ in 0..4 {
        for (name, op) in whole_ops() {
            let tag = tagged(name);
            mark(MARK_BEGIN, Some(&tag));
            report(op(path, &fd_file));
            mark(MARK_END, None);
        }
        for (name, file, op) in ranged_ops() {
            count_ranged(path, name, file, op)?;
        }
    }
    Ok(())
}

// ---- serve mode ----

fn create(iters: u64, kind: &str, size: usize, path: &str) -> io::Result<String> {
    let t0 = now_ns();
    match kind {
        "anon-private" => {
            for _ in 0..iters {
                let mut m = MmapMut::map_anon(size)?;
                unsafe { std::ptr::write_volatile(m.as_mut_ptr(), 1) };
            }
        }
        "file" => {
            for _ in 0..iters {
                let f = rw(path)?;
                let m = unsafe { MmapMut::map_mut(&f) }?;
                unsafe { std::ptr::read_volatile(m.as_ptr()) };
            }
        }
        _ => return Ok("unsupported memmap2 has no shared anonymous mapping".into()),
    }
    Ok(format!("ok {}", now_ns() - t0))
}

fn advise(iters: u64, path: &str) -> io::Result<String> {
    let f = rw(path)?;
    let m = unsafe { MmapMut::map_mut(&f) }?;
    let t0 = now_ns();
    for _ in 0..iters {
        m.advise(Advice::Normal)?;
    }
    Ok(format!("ok {}", now_ns() - t0))
}

fn sync(iters: u64, path: &str) -> io::Result<String> {
    let f = rw(path)?;
    let m = unsafe { MmapMut::map_mut(&f) }?;
    let t0 = now_ns();
    for _ in 0..iters {
        m.flush()?;
    }
    Ok(format!("ok {}", now_ns() - t0))
}

fn checksum(path: &str) -> io::Result<String> {
    let t0 = now_ns();
    let s = {
        let f = File::open(path)?;
        let m = unsafe { Mmap::map(&f) }?;
        sum64(&m)
    };
    Ok(format!("ok {} {}", now_ns() - t0, s))
}

fn answer(line: &str) -> io::Result<String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let iters: u64 = w.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let arg = |i: usize| w.get(i).copied().unwrap_or("");
    match arg(0) {
        "create" => create(iters, arg(2), arg(3).parse().unwrap_or(0), arg(4)),
        "advise" => advise(iters, arg(2)),
        "sync" => sync(iters, arg(2)),
        "checksum" => checksum(arg(2)),
        v => Ok(format!("unsupported {}", v)),
    }
}

fn serve() -> io::Result<()> {
    let stdin = io::stdin();
    let mut out = io::stdout();
    writeln!(out, "ready memmap2 0.5 (Debian librust-memmap2-dev)")?;
    out.flush()?;
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim() == "quit" {
            break;
        }
        let reply = answer(&line).unwrap_or_else(|e| format!("error {}", e));
        writeln!(out, "{}", reply)?;
        out.flush()?;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let r = match args.get(1).map(String::as_str) {
        Some("serve") => serve(),
        Some("count") if args.len() >= 3 => count(&args[2]),
        _ => {
            eprintln!("usage: memmap2_bench serve | count FILE");
            std::process::exit(2);
        }
    };
    if let Err(e) = r {
        eprintln!("memmap2_bench: {}", e);
        std::process::exit(1);
    }
}
