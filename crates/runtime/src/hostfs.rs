//! What the guest learns about files, made independent of the host.
//!
//! wasmtime-wasi passes three host facts through to the guest: the order in which the host file system lists
//! a directory (ext4 lists in hash order, with a per-file-system seed), each file's host inode (as a hash of
//! the host's device and inode numbers), and the host's timestamps, link counts and directory sizes. Each
//! differs between two providers holding the same inputs, so a guest that prints them would make honest
//! replicas disagree. This module shadows the three WASI preview 1 calls that expose them:
//!
//! - `fd_readdir` lists `.` and `..` first, then entries sorted by name bytes, with cookies that count
//!   positions in that order. The order is a function of the names alone, so every page is cut from the same
//!   order, whichever call reads it.
//! - `fd_readdir`, `fd_filestat_get` and `path_filestat_get` report inode numbers 1, 2, 3, ... in the order
//!   the guest first sees each file (the same file keeps its number, so identity checks still work), one link
//!   per file, size 0 for directories, and every timestamp at the guest clock's epoch.
//!
//! Two more shadows, `fd_write` and `fd_pwrite`, change nothing the guest sees: they measure the file behind
//! the descriptor before and after the write (`fstat`, through wasmtime-wasi) so that the output check after
//! the call knows by how much `/outputs` grew without walking it (see `State::check_output`). A write the
//! host refuses with `EFBIG` (the executor process's `RLIMIT_FSIZE`, set just above the output cap) is a
//! write past the cap: the guest stops with the output limit, as it would have without the rlimit.
//!
//! Mechanism: each shadow (a `func_wrap_async` that replaces wasmtime-wasi's import in the linker) borrows the
//! guest's memory and the store's [`WasiP1Ctx`] exactly as wasmtime-wasi's own glue does and calls
//! wasmtime-wasi's implementation of the same call (`p1::wasi_snapshot_preview1::*`). The two stat calls then
//! rewrite the `filestat` it wrote into guest memory; `fd_readdir` has it list into host memory and writes the
//! sorted page itself. Every other behaviour (rights, errors, path resolution, traps on bad pointers) stays
//! wasmtime-wasi's.

use std::collections::HashMap;

use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::p1::{
    WasiP1Ctx,
    wasi_snapshot_preview1::{self as preview1, WasiSnapshotPreview1},
};
use wiggle::{GuestMemory, GuestPtr};

use crate::{determinism::EPOCH_SECS, sandbox::State};

const WASI: &str = "wasi_snapshot_preview1";
/// Size of a WASI `dirent` header (the name follows it).
const DIRENT: usize = 24;
/// Size of a WASI `filestat`.
const FILESTAT: usize = 64;
/// `filetype::directory`.
const DIRECTORY: u8 = 3;
/// The first scratch buffer a whole listing is read into (it doubles until the listing fits).
const SCRATCH: usize = 64 << 10;
/// Bytes a whole listing may take (about a million short names); beyond it `fd_readdir` fails with
/// `EOVERFLOW` rather than growing host memory further. The size depends only on the names, so every host
/// answers alike.
const MAX_LISTING: usize = 64 << 20;
/// `errno::overflow`.
const ERRNO_OVERFLOW: i32 = 61;
/// `errno::fbig`.
const ERRNO_FBIG: i32 = 22;
/// A path the test guests stat to make the host function layer panic, in builds with fault injection.
#[cfg(feature = "fault-injection")]
pub const FAULT_PANIC_PATH: &[u8] = b"ocean-fault-injection-panic-host";

/// Per-run state: the inode numbers the guest has been shown.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// wasmtime-wasi's inode (a hash of the host's device and inode) → the number the guest sees.
    inodes: HashMap<u64, u64>,
    /// Size of the last scratch buffer a listing needed, so the next listing of a big directory does not
    /// start doubling from [`SCRATCH`] again.
    scratch: usize,
}

impl View {
    fn inode(&mut self, host: u64) -> u64 {
        let next = self.inodes.len() as u64 + 1;
        *self.inodes.entry(host).or_insert(next)
    }
}

/// One directory entry as wasmtime-wasi lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    ino: u64,
    kind: u8,
    name: Vec<u8>,
}

/// Replaces the three calls in `linker`, which must already hold wasmtime-wasi's preview 1.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap_async(
        WASI,
        "fd_filestat_get",
        |mut caller: Caller<'_, State>, (fd, buf): (i32, i32)| {
            Box::new(async move {
                let (mem, wasi, view) = split(&mut caller)?;
                let errno =
                    preview1::fd_filestat_get(wasi, &mut GuestMemory::Unshared(&mut *mem), fd, buf).await?;
                if errno == 0 {
                    scrub_filestat(mem, buf, view)?;
                }
                Ok(errno)
            })
        },
    )?;
    linker.func_wrap_async(
        WASI,
        "path_filestat_get",
        |mut caller: Caller<'_, State>, (fd, flags, path, len, buf): (i32, i32, i32, i32, i32)| {
            Box::new(async move {
                let (mem, wasi, view) = split(&mut caller)?;
                #[cfg(feature = "fault-injection")]
                fault_panic(mem, path, len);
                let errno = preview1::path_filestat_get(
                    wasi,
                    &mut GuestMemory::Unshared(&mut *mem),
                    fd,
                    flags,
                    path,
                    len,
                    buf,
                )
                .await?;
                if errno == 0 {
                    scrub_filestat(mem, buf, view)?;
                }
                Ok(errno)
            })
        },
    )?;
    linker.func_wrap_async(
        WASI,
        "fd_readdir",
        |mut caller: Caller<'_, State>, (fd, buf, len, cookie, used): (i32, i32, i32, i64, i32)| {
            Box::new(async move {
                let (mem, wasi, view) = split(&mut caller)?;
                readdir(mem, wasi, view, fd, buf, len, cookie, used).await
            })
        },
    )?;
    linker.func_wrap_async(
        WASI,
        "fd_write",
        |mut caller: Caller<'_, State>, (fd, iovs, len, written): (i32, i32, i32, i32)| {
            Box::new(async move {
                let (mem, state) = split_state(&mut caller)?;
                let before = host_size(&mut state.wasi, fd).await?;
                let errno = preview1::fd_write(
                    &mut state.wasi,
                    &mut GuestMemory::Unshared(&mut *mem),
                    fd,
                    iovs,
                    len,
                    written,
                )
                .await?;
                wrote(state, fd, before, errno).await
            })
        },
    )?;
    linker.func_wrap_async(
        WASI,
        "fd_pwrite",
        |mut caller: Caller<'_, State>, (fd, iovs, len, offset, written): (i32, i32, i32, i64, i32)| {
            Box::new(async move {
                let (mem, state) = split_state(&mut caller)?;
                let before = host_size(&mut state.wasi, fd).await?;
                let errno = preview1::fd_pwrite(
                    &mut state.wasi,
                    &mut GuestMemory::Unshared(&mut *mem),
                    fd,
                    iovs,
                    len,
                    offset,
                    written,
                )
                .await?;
                wrote(state, fd, before, errno).await
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// `(size, links)` of the host file behind `fd`; `None` for the standard streams and bad descriptors (a
/// write to those does not change `/outputs`).
async fn host_size(wasi: &mut WasiP1Ctx, fd: i32) -> wasmtime::Result<Option<(u64, u64)>> {
    let mut st = [0u8; FILESTAT];
    // Into a host buffer posing as guest memory at address 0 (aligned, in bounds).
    let errno = preview1::fd_filestat_get(wasi, &mut GuestMemory::Unshared(&mut st), fd, 0).await?;
    if errno != 0 || le_u64(&st[0..8]) == 0 {
        return Ok(None);
    }
    Ok(Some((le_u64(&st[32..40]), le_u64(&st[24..32]))))
}

/// After a write to `fd`: tells the output check by how much `/outputs` grew at most, and turns the host's
/// `EFBIG` into the output limit.
async fn wrote(state: &mut State, fd: i32, before: Option<(u64, u64)>, errno: i32) -> wasmtime::Result<i32> {
    let after = host_size(&mut state.wasi, fd).await?;
    let growth = match (before, after) {
        // Every name of a hard-linked file counts its bytes, so its growth counts once per link.
        (Some((before, _)), Some((after, links))) => {
            after.saturating_sub(before).saturating_mul(links.max(1))
        }
        _ => 0,
    };
    state.write_growth = Some(growth);
    if errno == ERRNO_FBIG {
        return Err(state.stop(crate::Limit::Output));
    }
    Ok(errno)
}

/// The guest's memory and the whole run state, borrowed together (see [`split`]).
fn split_state<'a>(caller: &'a mut Caller<'_, State>) -> wasmtime::Result<(&'a mut [u8], &'a mut State)> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(wasmtime::Error::msg("missing required memory export"));
    };
    let (mem, state) = memory.data_and_store_mut(caller);
    state.wasi.set_hostcall_fuel(fuel);
    Ok((mem, state))
}

/// Fault injection (test builds only): a guest that stats [`FAULT_PANIC_PATH`] panics the host function
/// layer, so tests can show that such a panic fails only its own task.
#[cfg(feature = "fault-injection")]
fn fault_panic(mem: &[u8], path: i32, len: i32) {
    let at = addr(path);
    if at.checked_add(addr(len)).and_then(|end| mem.get(at..end)) == Some(FAULT_PANIC_PATH) {
        panic!("fault injection: the guest asked the host function layer to panic");
    }
}

/// The guest's memory and the run's WASI context, borrowed together as wasmtime-wasi's own glue does
/// (including handing it the store's allowance of bytes a host call may copy).
fn split<'a>(
    caller: &'a mut Caller<'_, State>,
) -> wasmtime::Result<(&'a mut [u8], &'a mut WasiP1Ctx, &'a mut View)> {
    let fuel = caller.as_context_mut().hostcall_fuel();
    // Shared memories need the `threads` feature, which the engine is built without.
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(wasmtime::Error::msg("missing required memory export"));
    };
    let (mem, state) = memory.data_and_store_mut(caller);
    state.wasi.set_hostcall_fuel(fuel);
    Ok((mem, &mut state.wasi, &mut state.fs))
}

/// Guest addresses and sizes are unsigned 32-bit values passed as `i32`.
fn addr(v: i32) -> usize {
    v as u32 as usize
}

/// `len` bytes of guest memory at `at`, which wasmtime-wasi has just written (so they are in bounds; if not,
/// the guest is stopped rather than the host).
fn region(mem: &mut [u8], at: usize, len: usize) -> wasmtime::Result<&mut [u8]> {
    at.checked_add(len)
        .and_then(|end| mem.get_mut(at..end))
        .ok_or_else(|| wasmtime::Error::msg("wasmtime-wasi wrote outside the guest's memory"))
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

/// Rewrites the `filestat` wasmtime-wasi just wrote at `buf`.
fn scrub_filestat(mem: &mut [u8], buf: i32, view: &mut View) -> wasmtime::Result<()> {
    let st = region(mem, addr(buf), FILESTAT)?;
    // Device 0 is what wasmtime-wasi reports for stdin/stdout/stderr, all zeros but the file type: nothing
    // of the host in it. Files and directories are device 1.
    if le_u64(&st[0..8]) == 0 {
        return Ok(());
    }
    let ino = view.inode(le_u64(&st[8..16]));
    st[8..16].copy_from_slice(&ino.to_le_bytes());
    st[24..32].copy_from_slice(&1u64.to_le_bytes()); // nlink: hard links are the host's bookkeeping
    if st[16] == DIRECTORY {
        st[32..40].fill(0); // a directory's size is the file system's bookkeeping
    }
    let epoch = (EPOCH_SECS * 1_000_000_000).to_le_bytes();
    for t in st[40..64].chunks_exact_mut(8) {
        t.copy_from_slice(&epoch);
    }
    Ok(())
}

/// The shadow `fd_readdir`.
///
/// wasmtime-wasi reads the whole directory on every call anyway (its cookies are positions in the host's
/// order), so this does the same: it reads the whole listing through wasmtime-wasi into host memory (which
/// checks the descriptor and its rights and answers errors as it always does), sorts it, and writes the page
/// that starts at `cookie` into the guest's buffer. Nothing of the host's order ever reaches guest memory.
#[allow(clippy::too_many_arguments)] // the WASI call's own parameters
async fn readdir(
    mem: &mut [u8],
    wasi: &mut WasiP1Ctx,
    view: &mut View,
    fd: i32,
    buf: i32,
    len: i32,
    cookie: i64,
    used: i32,
) -> wasmtime::Result<i32> {
    let entries = match scan(wasi, view, fd).await? {
        Ok(entries) => entries,
        Err(errno) => return Ok(errno),
    };
    let mut listing = sorted(entries);
    for e in &mut listing {
        e.ino = view.inode(e.ino);
    }
    let page = page(&listing, u64::try_from(cookie).unwrap_or(u64::MAX), addr(len));
    let n = u32::try_from(page.len()).map_err(wasmtime::Error::new)?;
    // Through wiggle, as wasmtime-wasi writes: a pointer out of bounds or misaligned traps (WASI's rule).
    let mut mem = GuestMemory::Unshared(mem);
    mem.copy_from_slice(&page, GuestPtr::<[u8]>::new((buf as u32, n)))?;
    mem.write(GuestPtr::<u32>::new(used as u32), n)?;
    Ok(0)
}

/// Reads the whole listing of `fd` through wasmtime-wasi into a host buffer big enough for it (the buffer
/// poses as guest memory: the bytes count at offset 0, the listing from offset 8).
async fn scan(wasi: &mut WasiP1Ctx, view: &mut View, fd: i32) -> wasmtime::Result<Result<Vec<Entry>, i32>> {
    let mut size = SCRATCH.max(view.scratch);
    loop {
        if size > MAX_LISTING {
            return Ok(Err(ERRNO_OVERFLOW));
        }
        let mut scratch = vec![0u8; 8 + size];
        let len = i32::try_from(size).map_err(wasmtime::Error::new)?;
        let errno =
            preview1::fd_readdir(wasi, &mut GuestMemory::Unshared(&mut scratch), fd, 8, len, 0, 0).await?;
        if errno != 0 {
            return Ok(Err(errno));
        }
        let filled = le_u32(&scratch[0..4]) as usize;
        if filled < size {
            view.scratch = size;
            return Ok(Ok(parse(region(&mut scratch, 8, filled)?)));
        }
        size = size.saturating_mul(2);
    }
}

/// The whole entries in a listing wasmtime-wasi wrote.
fn parse(listing: &[u8]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut off = 0;
    while let Some(header) = listing.get(off..off + DIRENT) {
        let namelen = le_u32(&header[16..20]) as usize;
        let Some(name) = listing.get(off + DIRENT..off + DIRENT + namelen) else { break };
        entries.push(Entry { ino: le_u64(&header[8..16]), kind: header[20], name: name.to_vec() });
        off += DIRENT + namelen;
    }
    entries
}

/// `.` and `..` first (every listing has them), then by name bytes.
fn sorted(mut entries: Vec<Entry>) -> Vec<Entry> {
    let rank = |e: &Entry| match e.name.as_slice() {
        b"." => 0,
        b".." => 1,
        _ => 2,
    };
    entries.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.name.cmp(&b.name)));
    entries
}

/// The page of `listing` that starts at position `cookie`, in at most `cap` bytes, laid out as wasmtime-wasi
/// lays out its own: each entry's `d_next` is the position after it, and the last entry is cut short when
/// the buffer ends inside it (a full buffer tells the guest to read on from the last whole entry).
fn page(listing: &[Entry], cookie: u64, cap: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(cap.min(64 << 10));
    let start = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (i, e) in listing.iter().enumerate().skip(start) {
        let mut rec = Vec::with_capacity(DIRENT + e.name.len());
        rec.extend_from_slice(&(i as u64 + 1).to_le_bytes());
        rec.extend_from_slice(&e.ino.to_le_bytes());
        // A name fits in a u32: wasmtime-wasi already refused longer ones.
        rec.extend_from_slice(&(e.name.len() as u32).to_le_bytes());
        rec.extend_from_slice(&[e.kind, 0, 0, 0]);
        rec.extend_from_slice(&e.name);
        let room = cap - out.len();
        if rec.len() >= room {
            out.extend_from_slice(&rec[..room]);
            break;
        }
        out.extend_from_slice(&rec);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, ino: u64) -> Entry {
        Entry { ino, kind: 4, name: name.as_bytes().to_vec() }
    }

    fn listing(names: &[&str]) -> Vec<Entry> {
        let mut all = vec![entry(".", 100), entry("..", 100)];
        all.extend(names.iter().enumerate().map(|(i, n)| entry(n, 200 + i as u64)));
        sorted(all)
    }

    #[test]
    fn dots_first_then_names_by_bytes() {
        let names: Vec<Vec<u8>> =
            listing(&["b", "Z", "a", "ä", ".hidden", "a0"]).into_iter().map(|e| e.name).collect();
        let expected: [&[u8]; 8] = [b".", b"..", b".hidden", b"Z", b"a", b"a0", b"b", "ä".as_bytes()];
        assert_eq!(names, expected);
    }

    /// `(d_next, name)` of each whole record in a page.
    fn records(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        let mut off = 0;
        while let Some(h) = bytes.get(off..off + DIRENT) {
            let end = off + DIRENT + le_u32(&h[16..20]) as usize;
            let Some(name) = bytes.get(off + DIRENT..end) else { break };
            out.push((le_u64(&h[0..8]), name.to_vec()));
            off = end;
        }
        out
    }

    /// Reads `listing` the way wasi-libc and Rust's std do: a page from a cookie, the whole entries in it,
    /// then on from the last whole entry's `d_next`, until a page does not fill the buffer.
    fn read_in_pages(listing: &[Entry], cap: usize) -> Vec<Entry> {
        let mut got = Vec::new();
        let mut cookie = 0;
        loop {
            let bytes = page(listing, cookie, cap);
            assert!(bytes.len() <= cap);
            let whole = parse(&bytes);
            assert_eq!(whole.len(), records(&bytes).len());
            if let Some((next, name)) = records(&bytes).pop() {
                assert_eq!(name, listing[next as usize - 1].name, "d_next is the position after the entry");
                cookie = next;
            } else {
                assert!(bytes.len() < cap, "a {cap}-byte buffer holds at least one entry");
            }
            got.extend(whole);
            if bytes.len() < cap {
                return got;
            }
        }
    }

    #[test]
    fn small_buffers_page_through_every_entry_once() {
        let names: Vec<String> =
            (0..40).map(|i| format!("file-{:03}{}", (i * 7) % 40, "x".repeat(i % 5))).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let all = listing(&refs);
        for cap in [40, 41, 47, 64, 100, 333, 4096] {
            assert_eq!(read_in_pages(&all, cap), all, "buffer of {cap} bytes");
        }
    }

    #[test]
    fn a_page_is_cut_where_the_buffer_ends() {
        let all = listing(&["a", "b"]);
        let whole = page(&all, 0, 4096);
        assert_eq!(whole.len(), 25 + 26 + 25 + 25);
        // Ending inside `b`'s header, then inside its name: the buffer is full, `b` is not whole.
        for cap in [whole.len() - 10, whole.len() - 1] {
            let cut = page(&all, 0, cap);
            assert_eq!(cut, whole[..cap]);
            assert_eq!(parse(&cut).len(), 3);
        }
        assert_eq!(page(&all, 4, 4096), b"", "past the end: nothing");
        assert_eq!(page(&all, 3, 4096), whole[76..], "from a cookie: the rest");
    }
}
