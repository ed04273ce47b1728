//! What the guest learns about its files does not depend on the host: directory order, inode numbers, link
//! counts, directory sizes and timestamps (`tests/guests/listdir.wat` lists /inputs and stats every entry).

use std::{
    path::Path,
    time::{Duration, SystemTime},
};

use ocean_runtime::job;
use ocean_store::Store;
use ocean_types::Manifest;

use crate::{Scratch, prepare, runtime, small_limits, wat};

/// 2025-01-01T00:00:00Z in nanoseconds: the guest clock's epoch, which every file timestamp reads.
const EPOCH_NANOS: u64 = 1_735_689_600 * 1_000_000_000;
const DIRECTORY: u8 = 3;
const REGULAR_FILE: u8 = 4;

/// The listing guest with a `buflen`-byte `fd_readdir` buffer.
fn listdir(buflen: usize) -> Vec<u8> {
    String::from_utf8(wat("listdir")).unwrap().replace("BUFLEN", &buflen.to_string()).into_bytes()
}

/// Fills `inputs` with `names` in that order (each file holds its own name; a name ending in `/` is a folder),
/// every entry modified at `mtime`.
fn fill(inputs: &Path, names: &[&str], mtime: SystemTime) {
    for n in names {
        let path = inputs.join(n.trim_end_matches('/'));
        if n.ends_with('/') {
            std::fs::create_dir(&path).unwrap();
        } else {
            std::fs::write(&path, n).unwrap();
        }
        std::fs::File::open(&path).unwrap().set_modified(mtime).unwrap();
    }
}

/// Runs the listing guest over `inputs` as `/inputs`; returns its stdout.
async fn run_listdir(scratch: &Scratch, buflen: usize) -> Vec<u8> {
    let rt = runtime();
    let program = prepare(&rt, listdir(buflen));
    let out = rt.run(&program, &scratch.invocation(&[], small_limits())).await.unwrap();
    assert!(out.status.success(), "{:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// One entry of a listing as the guest saw it, with what `path_filestat_get` told it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    next: u64,
    ino: u64,
    kind: u8,
    name: String,
    /// errno of `path_filestat_get`, and the filestat when it is 0.
    stat: (u32, Option<Vec<u8>>),
}

/// The guest's stdout, decoded.
#[derive(Debug)]
struct Report {
    /// Bytes of each page.
    pages: Vec<usize>,
    entries: Vec<Seen>,
    root: Vec<u8>,
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes(4).try_into().unwrap())
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn decode(stdout: &[u8], buflen: usize) -> Report {
    let mut r = Reader(stdout);
    let mut report = Report { pages: Vec::new(), entries: Vec::new(), root: Vec::new() };
    loop {
        assert_eq!(r.u32(), 0, "fd_readdir errno");
        let used = r.u32() as usize;
        let page = r.bytes(buflen);
        report.pages.push(used);
        let mut off = 0;
        let mut whole = 0;
        while off + 24 <= used {
            let len = u32::from_le_bytes(page[off + 16..off + 20].try_into().unwrap()) as usize;
            if off + 24 + len > used {
                break;
            }
            let errno = r.u32();
            let stat = (errno == 0).then(|| r.bytes(64));
            report.entries.push(Seen {
                next: u64_at(&page, off),
                ino: u64_at(&page, off + 8),
                kind: page[off + 20],
                name: String::from_utf8(page[off + 24..off + 24 + len].to_vec()).unwrap(),
                stat: (errno, stat),
            });
            off += 24 + len;
            whole += 1;
        }
        if used < buflen {
            break;
        }
        if whole == 0 {
            panic!("a {buflen}-byte buffer held no whole entry (marker {:#x})", r.u32());
        }
    }
    assert_eq!(r.u32(), 0, "fd_filestat_get errno");
    report.root = r.bytes(64);
    assert!(r.0.is_empty(), "nothing more");
    report
}

const NAMES: [&str; 7] = ["b.txt", "zz", "a.txt", "sub/", "m", "c.txt", "Upper"];

#[tokio::test]
async fn listing_and_stats_do_not_depend_on_the_host() {
    let mut reversed = NAMES;
    reversed.reverse();
    // Created in opposite orders, with different modification times, as different host files.
    let one = Scratch::default();
    fill(&one.inputs(), &NAMES, SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000));
    let two = Scratch::default();
    fill(&two.inputs(), &reversed, SystemTime::now());
    // A second host link to one file: the link count is host bookkeeping too.
    std::fs::hard_link(two.inputs().join("m"), two.dir.path().join("m-elsewhere")).unwrap();

    let stdout = run_listdir(&one, 4096).await;
    assert_eq!(stdout, run_listdir(&two, 4096).await, "same inputs, same bytes");

    let report = decode(&stdout, 4096);
    assert_eq!(report.pages.len(), 1, "one page holds it all");
    let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, [".", "..", "Upper", "a.txt", "b.txt", "c.txt", "m", "sub", "zz"], "by name bytes");
    let cookies: Vec<u64> = report.entries.iter().map(|e| e.next).collect();
    assert_eq!(cookies, (1..=9).collect::<Vec<u64>>(), "cookies count positions");
    // Inode numbers count up in the order the guest first sees files; `.` and `..` are /inputs itself.
    let inodes: Vec<u64> = report.entries.iter().map(|e| e.ino).collect();
    assert_eq!(inodes, [1, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(u64_at(&report.root, 8), 1, "fd_filestat_get on /inputs: the number its listing showed");

    for e in &report.entries {
        let (errno, stat) = &e.stat;
        if e.name == ".." {
            assert_ne!(*errno, 0, "`..` leaves the sandbox: refused as wasmtime-wasi refuses it");
            continue;
        }
        let st = stat.as_ref().unwrap_or_else(|| panic!("{}: errno {errno}", e.name));
        assert_eq!(u64_at(st, 0), 1, "{}: device", e.name);
        assert_eq!(u64_at(st, 8), e.ino, "{}: a file keeps its inode number from call to call", e.name);
        assert_eq!(st[16], e.kind, "{}: file type", e.name);
        assert_eq!(u64_at(st, 24), 1, "{}: one link", e.name);
        let size = if e.kind == DIRECTORY { 0 } else { e.name.len() as u64 };
        assert_eq!(u64_at(st, 32), size, "{}: size", e.name);
        for t in [40, 48, 56] {
            assert_eq!(u64_at(st, t), EPOCH_NANOS, "{}: timestamps are the guest clock's epoch", e.name);
        }
    }
    let kinds: Vec<u8> = report.entries.iter().map(|e| e.kind).collect();
    let (d, f) = (DIRECTORY, REGULAR_FILE);
    assert_eq!(kinds, [d, d, f, f, f, f, f, d, f]);
    assert_eq!(&report.root[16..], &report.entries[0].stat.1.as_ref().unwrap()[16..], "/inputs as `.`");
}

#[tokio::test]
async fn small_buffers_page_through_the_same_listing() {
    // Enough names that a small buffer needs many pages; short enough that 40 bytes hold one whole entry.
    let names: Vec<String> = (0..30).map(|i| format!("f{:02}{}", (i * 7) % 30, "x".repeat(i % 4))).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut reversed = names.clone();
    reversed.reverse();
    let one = Scratch::default();
    fill(&one.inputs(), &names, SystemTime::UNIX_EPOCH);
    let two = Scratch::default();
    fill(&two.inputs(), &reversed, SystemTime::now());

    let whole = decode(&run_listdir(&one, 4096).await, 4096);
    assert_eq!(whole.entries.len(), 32);
    for buflen in [40, 64, 100, 333] {
        let stdout = run_listdir(&one, buflen).await;
        assert_eq!(stdout, run_listdir(&two, buflen).await, "{buflen}-byte pages, same bytes");
        let paged = decode(&stdout, buflen);
        assert!(paged.pages.len() > 2, "{buflen}-byte buffer: {} pages", paged.pages.len());
        // No entry lost or repeated, the same cookies and inode numbers as one big read.
        assert_eq!(paged.entries, whole.entries, "{buflen}-byte pages");
    }
}

#[tokio::test]
async fn a_job_has_the_same_result_cid_in_any_work_folder() {
    let data = tempfile::tempdir().unwrap();
    fill(data.path(), &["notes.txt", "a.bin", "z.csv"], SystemTime::now());
    let module = data.path().join("listdir.wat");
    std::fs::write(&module, listdir(256)).unwrap();
    let toml = format!(
        "[program]\nkind='wasm'\nmodule='{}'\n[inputs]\nnotes='notes.txt'\nzdata='z.csv'\nbinary='a.bin'\n",
        module.display()
    );
    let mut runs = Vec::new();
    for _ in 0..2 {
        // A fresh store and work folder each time: other host inodes and times under /inputs.
        let store = Store::memory();
        let manifest = ocean_job::resolve(&store, Manifest::from_toml(&toml).unwrap(), data.path()).unwrap();
        let work = tempfile::tempdir().unwrap();
        runs.push(job::execute(&runtime(), &store, &manifest, work.path()).await.unwrap());
    }
    assert_eq!(runs[0].ended, runs[1].ended);
    assert_eq!(runs[0].result, runs[1].result);
    let report = decode(&runs[0].outcome().unwrap().stdout, 256);
    let names: Vec<&str> = report.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, [".", "..", "binary", "notes", "zdata"]);
}

#[tokio::test]
async fn the_shadowed_calls_keep_wasmtime_wasis_errors() {
    let rt = runtime();
    let scratch = Scratch::default();
    fill(&scratch.inputs(), &NAMES, SystemTime::now());
    let program = prepare(&rt, wat("fs_errors"));
    let out = rt.run(&program, &scratch.invocation(&[], small_limits())).await.unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    // EBADF (also for stdout, which is no folder), ENOENT, EBADF: what wasmtime-wasi answers unshadowed.
    assert_eq!(out.stdout, [8, 8, 44, 8]);
    // A buffer past the end of memory stops the guest (as wasmtime-wasi does), not the host.
    let r = rt.run(&program, &scratch.invocation(&["trap"], small_limits())).await;
    assert!(r.is_err(), "{r:?}");
    let again = rt.run(&program, &scratch.invocation(&[], small_limits())).await.unwrap();
    assert_eq!(again.stdout, out.stdout, "and the runtime carries on");
}
