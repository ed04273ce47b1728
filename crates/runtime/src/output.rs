//! Bounded guest output: stdout/stderr kept in memory and the size of `/outputs`, counted against one cap.
//!
//! Every byte the guest *tries* to write to stdout or stderr is counted, even past the cap (those bytes are
//! dropped), so a flood is detected at the next check instead of being silently truncated. The sandbox checks
//! after every host call (see `sandbox.rs`), which are deterministic points of the guest's execution.

use std::{
    io,
    path::Path,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Most files the guest may leave in `/outputs` (bounds the cost of each size check and of the result).
pub(crate) const MAX_OUTPUT_FILES: usize = 10_000;

/// One of the guest's standard output streams.
#[derive(Clone)]
pub(crate) struct Pipe {
    kept: Arc<Mutex<Vec<u8>>>,
    cap: usize,
    /// Bytes written to stdout and stderr together, including dropped ones.
    written: Arc<AtomicU64>,
}

impl Pipe {
    pub(crate) fn new(cap: usize, written: Arc<AtomicU64>) -> Self {
        Self { kept: Arc::default(), cap, written }
    }

    /// What the guest wrote (at most the cap).
    pub(crate) fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl IsTerminal for Pipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Pipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.written.fetch_add(buf.len() as u64, Ordering::Relaxed);
        let mut kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let room = self.cap.saturating_sub(kept.len()).min(buf.len());
        kept.extend_from_slice(&buf[..room]);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Total bytes of the regular files under `dir` and how many there are; stops early once `limit` bytes or
/// [`MAX_OUTPUT_FILES`] files are exceeded (the caller only needs to know that).
pub(crate) fn dir_usage(dir: &Path, limit: u64) -> io::Result<(u64, usize)> {
    let mut bytes = 0u64;
    let mut files = 0usize;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            files += 1;
            if kind.is_dir() {
                stack.push(entry.path());
            } else {
                bytes = bytes.saturating_add(entry.metadata()?.len());
            }
            if bytes > limit || files > MAX_OUTPUT_FILES {
                return Ok((bytes, files));
            }
        }
    }
    Ok((bytes, files))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn pipe_counts_past_the_cap_but_keeps_only_the_cap() {
        let written = Arc::new(AtomicU64::new(0));
        let pipe = Pipe::new(4, written.clone());
        let mut w = pipe.clone();
        w.write_all(b"hello world").await.unwrap();
        assert_eq!(pipe.take(), b"hell");
        assert_eq!(written.load(Ordering::Relaxed), 11);
    }

    #[test]
    fn dir_usage_sums_nested_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("a"), b"123").unwrap();
        std::fs::write(d.path().join("sub/b"), b"4567").unwrap();
        assert_eq!(dir_usage(d.path(), u64::MAX).unwrap(), (7, 3));
    }
}
