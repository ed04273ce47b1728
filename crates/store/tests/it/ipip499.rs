//! The IPIP-499 fixture CIDs of the `unixfs-v1-2025` profile (as kubo's `cid_profiles_test.go` and
//! js-ipfs-unixfs's `ipip-499-profiles.spec.ts` record them). Inputs are ChaCha20 keystreams: key =
//! sha256(seed), 12-byte zero nonce, block counter from 0.

use std::io::Read;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use ocean_store::{Entry, ImportOptions, Profile, Store};
use sha2::Digest;

const MIB: u64 = 1 << 20;

/// The keystream of `seed`, `len` bytes long, as a reader.
struct Keystream {
    cipher: chacha20::ChaCha20,
    left: u64,
}

impl Keystream {
    fn new(seed: &str, len: u64) -> Self {
        let key: [u8; 32] = sha2::Sha256::digest(seed.as_bytes()).into();
        Keystream { cipher: chacha20::ChaCha20::new(&key.into(), &[0u8; 12].into()), left: len }
    }
}

impl Read for Keystream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].fill(0);
        self.cipher.apply_keystream(&mut buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

fn v1_2025() -> ImportOptions {
    ImportOptions::profile(Profile::UnixfsV1_2025)
}

fn file_cid(seed: &str, len: u64) -> String {
    Store::hash_reader(&mut Keystream::new(seed, len), &v1_2025(), &mut |_| {}).unwrap().cid.to_string()
}

#[test]
fn small_fixtures() {
    let store = Store::memory();
    assert_eq!(
        store.add_bytes(b"hello world", &v1_2025()).unwrap().cid.to_string(),
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    );
    assert_eq!(
        store.put_dir(&[], &v1_2025()).unwrap().cid.to_string(),
        "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
    );
    assert_eq!(file_cid("chunk-v1-seed", MIB), "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta");
    assert_eq!(
        file_cid("chunk-v1-seed", MIB + 1),
        "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64"
    );
}

/// The same keystream from `openssl enc -chacha20` (IV = 4-byte LE counter 0 || 12-byte zero nonce): the
/// GiB-sized fixtures would take minutes through the `chacha20` crate in a debug build.
fn openssl_cid(seed: &str, len: u64) -> String {
    let key = hex::encode(sha2::Sha256::digest(seed.as_bytes()));
    let mut child = std::process::Command::new("openssl")
        .args(["enc", "-chacha20", "-K", &key, "-iv", &"0".repeat(32), "-in", "/dev/zero"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the openssl command-line tool is needed for the GiB-sized IPIP-499 fixtures");
    let stdout = child.stdout.take().expect("piped stdout");
    let cid = Store::hash_reader(&mut stdout.take(len), &v1_2025(), &mut |_| {}).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(cid.size, len, "openssl produced the whole keystream");
    cid.cid.to_string()
}

#[test]
fn max_links_boundary_fixtures() {
    // The two keystream sources agree.
    assert_eq!(openssl_cid("chunk-v1-seed", MIB + 1), file_cid("chunk-v1-seed", MIB + 1));
    // 1024 x 1 MiB: the widest single-level DAG; one byte more adds a level.
    assert_eq!(
        openssl_cid("v1-2025-seed", 1024 * MIB),
        "bafybeihmf37wcuvtx4hpu7he5zl5qaf2ineo2lqlfrapokkm5zzw7zyhvm"
    );
    assert_eq!(
        openssl_cid("v1-2025-seed", 1024 * MIB + 1),
        "bafybeibdsi225ugbkmpbdohnxioyab6jsqrmkts3twhpvfnzp77xtzpyhe"
    );
}

/// `count` names over `[a-z0-9-_]` from one 1 MiB keystream, each `len` long but the last (`last_len`).
fn names(count: usize, len: usize, last_len: usize, seed: &str) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz01234567890-_";
    let mut stream = vec![0u8; MIB as usize];
    Keystream::new(seed, MIB).read_exact(&mut stream).unwrap();
    let mut offset = 0;
    (0..count)
        .map(|i| {
            let n = if i == count - 1 { last_len } else { len };
            let name = stream[offset..offset + n]
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect();
            offset += n;
            name
        })
        .collect()
}

#[test]
fn hamt_threshold_fixtures() {
    let store = Store::memory();
    let x = store.add_bytes(b"x", &v1_2025()).unwrap();
    for (last, expected) in [
        (21, "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4"), // exactly at the threshold: flat
        (22, "bafybeiegvuterwurhdtkikfhbxcldohmxp566vpjdofhzmnhv6o4freidu"), // one byte over: HAMT
    ] {
        let entries: Vec<Entry> = names(4766, 11, last, "hamt-unixfs-v1-2025")
            .into_iter()
            .map(|n| Entry::from_added(n, &x))
            .collect();
        assert_eq!(
            store.put_dir(&entries, &v1_2025()).unwrap().cid.to_string(),
            expected,
            "last name {last} bytes"
        );
    }
}
