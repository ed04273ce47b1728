//! The trustless HTTP gateway (IPFS "Trustless Gateway" spec): `GET/HEAD /ipfs/{cid}[/path]`.
//!
//! - `?format=raw` or `Accept: application/vnd.ipld.raw`: the single block, verifiable against its CID.
//! - `?format=car` or `Accept: application/vnd.ipld.car`: a CARv1 of the DAG (`order=dfs`, `dups=n`), limited
//!   by `dag-scope=all|entity|block` and `entity-bytes=from:to`. The CAR starts with the blocks of the path,
//!   so a client can verify the path too.
//! - Without either, a UnixFS file is served as its bytes (convenient for `curl`); directories get 406.
//!
//! Responses are streamed from a blocking task through a bounded channel, so a large CAR never sits in
//! memory. [`router`] builds the `axum::Router`, testable in-process with `tower::ServiceExt::oneshot`.

use std::io::{Read, Write};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::mpsc;

use crate::exporter::Scope;
use crate::{Cid, Error, Store};

/// Media type of a single block.
pub const RAW: &str = "application/vnd.ipld.raw";
/// Media type of a CAR.
pub const CAR: &str = "application/vnd.ipld.car";
const CAR_RESPONSE: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";
const IMMUTABLE: &str = "public, max-age=29030400, immutable";
/// Chunks in flight between the blocking exporter and the HTTP body.
const CHANNEL: usize = 16;

/// The gateway's routes over `store`.
pub fn router(store: Store) -> Router {
    Router::new().route("/ipfs/{*path}", get(handle).head(handle)).with_state(store)
}

/// Serves `store` on `listener` until `shutdown` resolves.
pub async fn serve(
    store: Store,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(store)).with_graceful_shutdown(shutdown).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Raw,
    Car,
    File,
}

/// Query parameters of the spec.
#[derive(Debug, Default, serde::Deserialize)]
struct Params {
    format: Option<String>,
    #[serde(rename = "dag-scope")]
    dag_scope: Option<String>,
    #[serde(rename = "entity-bytes")]
    entity_bytes: Option<String>,
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut r = (status, msg.into()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn error_response(e: &Error) -> Response {
    match e {
        Error::NotFound(_) | Error::NoSuchPath { .. } => text(StatusCode::NOT_FOUND, e.to_string()),
        Error::Cid(_) | Error::Invalid(_) => text(StatusCode::BAD_REQUEST, e.to_string()),
        Error::NotAFile(_) => text(StatusCode::NOT_ACCEPTABLE, e.to_string()),
        _ => {
            tracing::warn!(target: "ocean::store::gateway", error = %e, "request failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

/// A refused request: status and message.
type Reject = (StatusCode, String);

fn pick_format(params: &Params, headers: &HeaderMap) -> Result<Format, Reject> {
    match params.format.as_deref() {
        Some("raw") => return Ok(Format::Raw),
        Some("car") => return Ok(Format::Car),
        Some(other) => return Err((StatusCode::BAD_REQUEST, format!("unsupported format {other:?}"))),
        None => {}
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let params: Vec<&str> = parts.collect();
        if media == RAW {
            return Ok(Format::Raw);
        }
        if media == CAR {
            if params.iter().any(|p| p.starts_with("version=") && *p != "version=1") {
                return Err((StatusCode::NOT_ACCEPTABLE, "only CAR version=1 is served".into()));
            }
            if params.iter().any(|p| p.starts_with("order=") && *p != "order=dfs" && *p != "order=unk") {
                return Err((StatusCode::NOT_ACCEPTABLE, "only order=dfs is served".into()));
            }
            return Ok(Format::Car);
        }
    }
    Ok(Format::File)
}

fn parse_scope(s: Option<&str>) -> Result<Scope, Reject> {
    match s {
        None | Some("all") => Ok(Scope::All),
        Some("entity") => Ok(Scope::Entity),
        Some("block") => Ok(Scope::Block),
        Some(other) => Err((StatusCode::BAD_REQUEST, format!("invalid dag-scope {other:?}"))),
    }
}

/// `entity-bytes=from:to`: `from` may be negative (from the end), `to` may be `*` or negative.
fn parse_range(s: &str, size: u64) -> Result<(u64, Option<u64>), Reject> {
    let bad = || (StatusCode::BAD_REQUEST, format!("invalid entity-bytes {s:?}"));
    let (from, to) = s.split_once(':').ok_or_else(bad)?;
    let resolve = |v: i64| if v < 0 { size.saturating_sub(v.unsigned_abs()) } else { v as u64 };
    let from = resolve(from.parse::<i64>().map_err(|_| bad())?);
    let to = match to {
        "*" => None,
        t => Some(resolve(t.parse::<i64>().map_err(|_| bad())?)),
    };
    if to.is_some_and(|t| t < from) {
        return Err(bad());
    }
    Ok((from, to))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Invalid(format!("gateway task failed: {e}"))))
}

async fn handle(
    State(store): State<Store>,
    method: Method,
    Path(path): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (cid_text, sub) = path.split_once('/').unwrap_or((path.as_str(), ""));
    let root: Cid = match cid_text.parse() {
        Ok(c) => c,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("invalid CID {cid_text:?}: {e}")),
    };
    let format = match pick_format(&params, &headers) {
        Ok(f) => f,
        Err((status, msg)) => return text(status, msg),
    };
    let scope = match parse_scope(params.dag_scope.as_deref()) {
        Ok(s) => s,
        Err((status, msg)) => return text(status, msg),
    };
    let sub = sub.to_owned();
    let resolved = {
        let store = store.clone();
        blocking(move || {
            if !store.has(&root)? {
                return Err(Error::NotFound(root));
            }
            store.resolve_with_blocks(&root, &sub)
        })
        .await
    };
    let (target, path_blocks) = match resolved {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    let head = method == Method::HEAD;
    let mut resp = match format {
        Format::Raw => raw_response(&store, target, head).await,
        Format::Car => car_response(&store, target, path_blocks, scope, params.entity_bytes, head).await,
        Format::File => file_response(&store, target, head).await,
    };
    let h = resp.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(v) = HeaderValue::from_str(&format!("/ipfs/{path}")) {
        h.insert("x-ipfs-path", v);
    }
    if let Ok(v) = HeaderValue::from_str(&root.to_string()) {
        h.insert("x-ipfs-roots", v);
    }
    resp
}

async fn raw_response(store: &Store, cid: Cid, head: bool) -> Response {
    let store = store.clone();
    let block = match blocking(move || store.block(&cid)).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let len = block.len();
    let body = if head { Body::empty() } else { Body::from(block) };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(RAW));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    insert(h, header::ETAG, format!("\"{cid}.raw\""));
    insert(h, header::CONTENT_DISPOSITION, format!("attachment; filename=\"{cid}.bin\""));
    r
}

fn insert(h: &mut HeaderMap, name: header::HeaderName, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(name, v);
    }
}

async fn car_response(
    store: &Store,
    cid: Cid,
    path_blocks: Vec<Cid>,
    scope: Scope,
    entity_bytes: Option<String>,
    head: bool,
) -> Response {
    // Ranges apply to files; resolve negative offsets against the file size first.
    let range = match entity_bytes {
        None => None,
        Some(spec) => {
            let s = store.clone();
            let size = blocking(move || Ok(s.cat(&cid).map(|r| r.size()).unwrap_or(0))).await.unwrap_or(0);
            match parse_range(&spec, size) {
                Ok(r) => Some(r),
                Err((status, msg)) => return text(status, msg),
            }
        }
    };
    let scope_name = match scope {
        Scope::All => "all",
        Scope::Entity => "entity",
        Scope::Block => "block",
    };
    let range_tag =
        range.map_or(String::new(), |(f, t)| format!(".{f}-{}", t.map_or("*".into(), |t| t.to_string())));
    let etag = format!("\"{cid}.car.{scope_name}{range_tag}\"");
    let body = if head {
        Body::empty()
    } else {
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL);
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            let sink = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(256 * 1024) };
            // The root of the walk is the path target; the CAR header names the requested root.
            if let Err(e) = store.export_car_scoped(&cid, &path_blocks, scope, range, sink) {
                // The status is already sent: end the body with an error so the client sees a broken
                // stream rather than a short, valid-looking CAR.
                tracing::warn!(target: "ocean::store::gateway", error = %e, "CAR stream aborted");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        });
        Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CAR_RESPONSE));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    insert(h, header::ETAG, etag);
    insert(h, header::CONTENT_DISPOSITION, format!("attachment; filename=\"{cid}.car\""));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    r
}

async fn file_response(store: &Store, cid: Cid, head: bool) -> Response {
    let s = store.clone();
    let reader = match blocking(move || s.cat(&cid)).await {
        Ok(r) => r,
        Err(Error::NotAFile(c)) => {
            return text(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "{c} is not a file: ask for ?format=car or ?format=raw (this is a trustless gateway)"
                ),
            );
        }
        Err(e) => return error_response(&e),
    };
    let size = reader.size();
    let body = if head {
        Body::empty()
    } else {
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL);
        tokio::task::spawn_blocking(move || {
            let mut reader = reader;
            let mut sink = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(256 * 1024) };
            if let Err(e) = std::io::copy(&mut reader, &mut sink).and_then(|_| sink.flush()) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    insert(h, header::ETAG, format!("\"{cid}\""));
    r
}

/// A `Write` that sends 256 KiB chunks into the response body channel (blocking when the client is slow).
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(256 * 1024)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Adapts a channel of byte chunks into a blocking `Read` (used by the fetcher to parse CARs).
pub(crate) struct ChannelReader {
    pub(crate) rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    pub(crate) current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}
