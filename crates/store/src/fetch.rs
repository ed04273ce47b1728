//! Verified fetch: pulls a DAG from trustless gateways, checking every block against its CID before storing.

/// Errors of a fetch.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP request failed (connection, timeout, status).
    #[error("gateway {url}: {reason}")]
    Http {
        /// The gateway URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A gateway sent a block that does not match its CID, or one that is not part of the DAG.
    #[error("gateway {url} sent bad data: {reason}")]
    BadData {
        /// The gateway URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// No gateway could supply the DAG.
    #[error("no gateway supplied {cid}; last error: {last}")]
    Exhausted {
        /// The block still missing.
        cid: crate::Cid,
        /// The last gateway's error.
        last: String,
    },
}

impl Error {
    /// Whether another try (or another gateway) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Http { .. } | Error::Exhausted { .. })
    }
}

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::car;
use crate::cid::{Cid, DAG_PB};
use crate::exporter::{Decoded, decode};
use crate::{Store, gateway};

/// Blocks stored per write transaction while fetching.
const BATCH_BLOCKS: usize = 64;
/// Missing subtrees requested per round.
const FRONTIER: usize = 32;

/// Progress of a fetch, readable while it runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Verified bytes received (block data).
    pub bytes: AtomicU64,
    /// Verified blocks stored.
    pub blocks: AtomicU64,
}

/// What a fetch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Blocks fetched and stored (blocks already present are not fetched again).
    pub blocks: u64,
    /// Bytes of those blocks.
    pub bytes: u64,
}

/// A client for trustless gateways that stores only verified blocks.
#[derive(Debug, Clone)]
pub struct Fetcher {
    store: Store,
    gateways: Vec<String>,
    client: reqwest::Client,
}

impl Fetcher {
    /// A fetcher into `store` from `gateways` (base URLs such as `http://127.0.0.1:8080`), tried in order.
    pub fn new(store: Store, gateways: Vec<String>) -> Result<Fetcher, Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Http { url: String::new(), reason: e.to_string() })?;
        let gateways = gateways.into_iter().map(|g| g.trim_end_matches('/').to_owned()).collect();
        Ok(Fetcher { store, gateways, client })
    }

    /// Fetches the whole DAG under `root` and pins it. Blocks already in the store are not fetched again, so
    /// an interrupted fetch resumes where it stopped. Every block is checked against its CID, and must be
    /// linked from a verified block (or be the requested root), before it is stored.
    pub async fn fetch(&self, root: &Cid, progress: &Arc<Progress>) -> Result<Stats, crate::Error> {
        let mut stats = Stats::default();
        let mut last_error = String::from("no gateway given");
        let mut next_gateway = 0usize;
        loop {
            let store = self.store.clone();
            let r = *root;
            let missing = tokio::task::spawn_blocking(move || missing_blocks(&store, &r, FRONTIER))
                .await
                .map_err(|e| crate::Error::Invalid(format!("fetch task failed: {e}")))??;
            let Some(&first) = missing.first() else { break };
            let mut progressed = false;
            for cid in missing {
                if self.gateways.is_empty() {
                    break;
                }
                // Try each gateway once for this subtree, starting after the last one that worked.
                for attempt in 0..self.gateways.len() {
                    let gw = &self.gateways[(next_gateway + attempt) % self.gateways.len()];
                    match self.fetch_car(gw, &cid, progress).await {
                        Ok(s) => {
                            stats.blocks += s.blocks;
                            stats.bytes += s.bytes;
                            progressed |= s.blocks > 0;
                            next_gateway = (next_gateway + attempt) % self.gateways.len();
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(target: "ocean::store::fetch", gateway = %gw, %cid, error = %e, "gateway failed");
                            last_error = e.to_string();
                        }
                    }
                }
            }
            if !progressed {
                return Err(Error::Exhausted { cid: first, last: last_error }.into());
            }
        }
        let store = self.store.clone();
        let r = *root;
        tokio::task::spawn_blocking(move || store.pin(&r))
            .await
            .map_err(|e| crate::Error::Invalid(format!("fetch task failed: {e}")))??;
        Ok(stats)
    }

    /// Requests `?format=car` of `cid` from `gw` and stores each verified block; blocks verified before an
    /// error stay stored (they are correct), which is what makes resuming possible.
    async fn fetch_car(&self, gw: &str, cid: &Cid, progress: &Arc<Progress>) -> Result<Stats, Error> {
        let url = format!("{gw}/ipfs/{cid}?format=car&dag-scope=all");
        let http = |reason: String| Error::Http { url: url.clone(), reason };
        let resp = self
            .client
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/vnd.ipld.car; version=1; order=dfs; dups=n")
            .send()
            .await
            .map_err(|e| http(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(http(format!("status {}", resp.status())));
        }
        let (tx, rx) = mpsc::channel(16);
        let store = self.store.clone();
        let root = *cid;
        let p = progress.clone();
        let gw_url = url.clone();
        let consumer = tokio::task::spawn_blocking(move || {
            store_verified(
                &store,
                gateway::ChannelReader { rx, current: Default::default() },
                root,
                &p,
                &gw_url,
            )
        });
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
        drop(tx);
        consumer.await.map_err(|e| http(format!("fetch task failed: {e}")))?
    }
}

/// Reads a CAR from `r`, verifying and storing blocks in batches.
fn store_verified(
    store: &Store,
    r: impl std::io::Read,
    root: Cid,
    progress: &Progress,
    url: &str,
) -> Result<Stats, Error> {
    let bad = |reason: String| Error::BadData { url: url.to_owned(), reason };
    let mut stats = Stats::default();
    let mut expected: HashSet<Cid> = HashSet::from([root.to_v1()]);
    let mut batch: Vec<(Cid, Vec<u8>)> = Vec::new();
    let flush = |batch: &mut Vec<(Cid, Vec<u8>)>, stats: &mut Stats| -> Result<(), Error> {
        store
            .put_blocks(batch)
            .map_err(|e| Error::Http { url: url.to_owned(), reason: format!("storing blocks: {e}") })?;
        for (_, data) in batch.iter() {
            stats.blocks += 1;
            stats.bytes += data.len() as u64;
            progress.blocks.fetch_add(1, Ordering::Relaxed);
            progress.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        batch.clear();
        Ok(())
    };
    let result = (|| -> Result<(), Error> {
        let mut reader = car::Reader::new(r).map_err(|e| bad(e.to_string()))?;
        loop {
            let next = reader.next_block();
            let (cid, data) = match next {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(car::Error::HashMismatch(c)) => {
                    return Err(bad(format!("block {c} does not match its CID")));
                }
                Err(e @ car::Error::Io(_)) => {
                    return Err(Error::Http { url: url.to_owned(), reason: e.to_string() });
                }
                Err(e) => return Err(bad(e.to_string())),
            };
            if !expected.remove(&cid.to_v1()) {
                return Err(bad(format!("block {cid} is not part of the requested DAG")));
            }
            if cid.codec() == DAG_PB {
                match decode(&cid, data.clone()) {
                    Ok(Decoded::Pb { node, .. }) => expected.extend(node.links.iter().map(|l| l.cid.to_v1())),
                    Ok(Decoded::Raw(_)) => {}
                    Err(e) => return Err(bad(e.to_string())),
                }
            }
            batch.push((cid, data));
            if batch.len() >= BATCH_BLOCKS {
                flush(&mut batch, &mut stats)?;
            }
        }
        Ok(())
    })();
    // Verified blocks are kept even when the stream broke later.
    flush(&mut batch, &mut stats)?;
    result.map(|()| stats)
}

/// Up to `limit` blocks of the DAG under `root` that are not in the store, found by walking what is.
fn missing_blocks(store: &Store, root: &Cid, limit: usize) -> Result<Vec<Cid>, crate::Error> {
    let mut missing = Vec::new();
    let mut stack = vec![*root];
    let mut seen = HashSet::new();
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid.to_v1()) {
            continue;
        }
        if !store.has(&cid)? {
            missing.push(cid);
            if missing.len() >= limit {
                break;
            }
            continue;
        }
        if cid.codec() != DAG_PB {
            continue;
        }
        if let Decoded::Pb { node, .. } = decode(&cid, store.block(&cid)?)? {
            stack.extend(node.links.iter().rev().map(|l| l.cid));
        }
    }
    Ok(missing)
}
