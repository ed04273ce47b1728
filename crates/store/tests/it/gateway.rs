//! The trustless gateway in-process (`Router` + `oneshot`), and the verified fetch client against it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use ocean_store::fetch::{Fetcher, Progress};
use ocean_store::{Cid, Entry, ImportOptions, Store, gateway};
use tower::ServiceExt;

use crate::common::random_bytes;

async fn send(
    store: &Store,
    method: &str,
    uri: &str,
    accept: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    let resp = gateway::router(store.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

fn car_blocks(car: &[u8]) -> (Vec<Cid>, Vec<Cid>) {
    let mut r = ocean_store::car::Reader::new(car).unwrap();
    let roots = r.roots().to_vec();
    let mut cids = Vec::new();
    while let Some((cid, _)) = r.next_block().unwrap() {
        cids.push(cid);
    }
    (roots, cids)
}

fn fixture() -> (Store, Cid, Cid, Vec<u8>) {
    let store = Store::memory();
    let opts = ImportOptions::default();
    let data = random_bytes(9, 5 * 256 * 1024 + 100);
    let file = store.add_bytes(&data, &opts).unwrap();
    let note = store.add_bytes(b"note", &opts).unwrap();
    let dir = store
        .put_dir(&[Entry::from_added("big.bin", &file), Entry::from_added("note.txt", &note)], &opts)
        .unwrap();
    (store, dir.cid, file.cid, data)
}

#[tokio::test]
async fn raw_block_with_required_headers() {
    let (store, dir, file, _) = fixture();
    for (uri, accept) in
        [(format!("/ipfs/{file}?format=raw"), None), (format!("/ipfs/{file}"), Some(gateway::RAW))]
    {
        let (status, h, body) = send(&store, "GET", &uri, accept).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], gateway::RAW);
        assert_eq!(h[header::ETAG], format!("\"{file}.raw\"").as_str());
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=29030400, immutable");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(file.verify(&body), "the raw block verifies against its CID");
        assert_eq!(h[header::CONTENT_LENGTH], body.len().to_string().as_str());
    }
    // HEAD: same headers, no body.
    let (status, h, body) = send(&store, "HEAD", &format!("/ipfs/{dir}?format=raw"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], gateway::RAW);
    assert!(body.is_empty());
}

#[tokio::test]
async fn car_scopes_paths_and_ranges() {
    let (store, dir, file, data) = fixture();
    let (status, h, body) = send(&store, "GET", &format!("/ipfs/{dir}?format=car"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/vnd.ipld.car; version=1; order=dfs; dups=n");
    let (roots, all) = car_blocks(&body);
    assert_eq!(roots, vec![dir]);
    assert_eq!(all.len(), 1 + 1 + 6 + 1, "dir, file root, 6 leaves, note");
    assert_eq!(all[0], dir);
    assert_eq!(all[1], file, "depth-first order");

    let (_, _, body) = send(&store, "GET", &format!("/ipfs/{dir}?format=car&dag-scope=block"), None).await;
    assert_eq!(car_blocks(&body).1, vec![dir]);
    let (_, _, body) = send(&store, "GET", &format!("/ipfs/{dir}?format=car&dag-scope=entity"), None).await;
    assert_eq!(car_blocks(&body).1, vec![dir], "a directory's entity is its own node");

    // A path: the CAR names the requested root and carries the path's blocks first.
    let (status, _, body) = send(
        &store,
        "GET",
        &format!("/ipfs/{dir}/big.bin?dag-scope=entity"),
        Some("application/vnd.ipld.car"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (roots, blocks) = car_blocks(&body);
    assert_eq!(roots, vec![dir]);
    assert_eq!(blocks.len(), 1 + 1 + 6);

    // entity-bytes: only the leaves overlapping the range (bytes 300000..=300010 live in leaf 2).
    let (_, _, body) =
        send(&store, "GET", &format!("/ipfs/{file}?format=car&entity-bytes=300000:300010"), None).await;
    let (_, blocks) = car_blocks(&body);
    assert_eq!(blocks.len(), 2, "file root + one leaf");
    let leaf =
        Cid::hash_block(ocean_store::cid::Version::V1, ocean_store::cid::RAW, &data[256 * 1024..512 * 1024]);
    assert_eq!(blocks[1], leaf);
    let (_, _, body) =
        send(&store, "GET", &format!("/ipfs/{file}?format=car&entity-bytes=-10:*"), None).await;
    assert_eq!(car_blocks(&body).1.len(), 2, "file root + the last leaf");

    // HEAD of a file: its length, no body.
    let (status, h, body) = send(&store, "HEAD", &format!("/ipfs/{dir}/big.bin"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_LENGTH], data.len().to_string().as_str());
    assert!(body.is_empty());
    // Plain GET of a file serves its bytes; a directory is refused.
    let (status, _, body) = send(&store, "GET", &format!("/ipfs/{dir}/note.txt"), None).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"note"[..]));
    assert_eq!(send(&store, "GET", &format!("/ipfs/{dir}"), None).await.0, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn errors() {
    let (store, dir, _, _) = fixture();
    let absent = Cid::hash_block(ocean_store::cid::Version::V1, ocean_store::cid::RAW, b"absent");
    assert_eq!(
        send(&store, "GET", &format!("/ipfs/{absent}?format=raw"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&store, "HEAD", &format!("/ipfs/{absent}?format=car"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&store, "GET", &format!("/ipfs/{dir}/nope?format=car"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(&store, "GET", "/ipfs/not-a-cid?format=raw", None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        send(&store, "GET", &format!("/ipfs/{dir}?format=pdf"), None).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&store, "GET", &format!("/ipfs/{dir}?format=car&dag-scope=x"), None).await.0,
        StatusCode::BAD_REQUEST
    );
    let v2 = "application/vnd.ipld.car; version=2";
    assert_eq!(send(&store, "GET", &format!("/ipfs/{dir}"), Some(v2)).await.0, StatusCode::NOT_ACCEPTABLE);
}

async fn spawn(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_verifies_resumes_and_falls_back() {
    let (src, dir, file, data) = fixture();
    let good = spawn(gateway::router(src.clone())).await;
    // A gateway that flips one byte of every CAR it serves.
    let evil = {
        let src = src.clone();
        spawn(axum::Router::new().fallback(move |req: Request<Body>| {
            let src = src.clone();
            async move {
                let resp = gateway::router(src).oneshot(req).await.unwrap();
                let mut body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
                let n = body.len();
                if n > 0 {
                    body[n - 1] ^= 1;
                }
                body
            }
        }))
        .await
    };

    // Only the evil gateway: nothing unverified is stored, and the error names the bad data.
    let dst = Store::memory();
    let err = Fetcher::new(dst.clone(), vec![evil.clone()])
        .unwrap()
        .fetch(&dir, &Arc::new(Progress::default()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad data") || err.to_string().contains("no gateway"), "{err}");
    // The corrupted block (the CAR's last: note.txt) was refused; the blocks before it verified and stayed.
    let note = Cid::hash_block(ocean_store::cid::Version::V1, ocean_store::cid::RAW, b"note");
    assert!(!dst.has(&note).unwrap());
    assert!(dst.has(&file).unwrap());
    let mut car = Vec::new();
    assert!(dst.export_car(&dir, &mut car).is_err(), "the DAG is incomplete");

    // Evil first, good second: falls back, resumes from what verified, and pins.
    let progress = Arc::new(Progress::default());
    let stats =
        Fetcher::new(dst.clone(), vec![evil, good.clone()]).unwrap().fetch(&dir, &progress).await.unwrap();
    assert!(stats.blocks >= 1);
    let mut back = Vec::new();
    std::io::Read::read_to_end(&mut dst.cat(&file).unwrap(), &mut back).unwrap();
    assert_eq!(back, data);
    assert_eq!(dst.pins().unwrap(), vec![dir]);
    // Fetching again transfers nothing.
    let again = Fetcher::new(dst.clone(), vec![good])
        .unwrap()
        .fetch(&dir, &Arc::new(Progress::default()))
        .await
        .unwrap();
    assert_eq!(again.blocks, 0);
}
