//! Property tests (proptest) of the code that faces untrusted bytes: the decoders (dag-pb, UnixFS, CIDs, CAR)
//! and the exporter fed crafted trees, mutated CARs and random directory nodes (nothing is ever written
//! outside the output folder). `OCEAN_FUZZ_CASES=N` sets the number of cases of every property (`make fuzz`).

use ocean_store::car;
use ocean_store::cid::{Cid, DAG_PB, RAW, Version};
use ocean_store::dagpb::{Link, Node};
use ocean_store::unixfs::{Data, Kind};
use ocean_store::{ImportOptions, Store};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::hostile_trees::Scene;

fn cid_strategy() -> impl Strategy<Value = Cid> {
    (any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
        |(v0, raw, seed)| {
            let (v, c) = match (v0, raw) {
                (true, _) => (Version::V0, DAG_PB),
                (false, true) => (Version::V1, RAW),
                (false, false) => (Version::V1, DAG_PB),
            };
            Cid::hash_block(v, c, &seed)
        },
    )
}

fn node_strategy() -> impl Strategy<Value = Node> {
    let link =
        (cid_strategy(), proptest::option::of("[a-z0-9._-]{0,12}"), proptest::option::of(any::<u64>()))
            .prop_map(|(cid, name, tsize)| Link { cid, name, tsize });
    (
        proptest::collection::vec(link, 0..6),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    )
        .prop_map(|(links, data)| Node { links, data })
}

/// A small valid CAR to mutate.
fn sample_car() -> Vec<u8> {
    let store = Store::memory();
    let opts = ImportOptions { chunk_size: 64, max_links: 3, ..ImportOptions::default() };
    let added = store.add_bytes(&crate::common::random_bytes(5, 700), &opts).unwrap();
    let mut out = Vec::new();
    store.export_car(&added.cid, &mut out).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(512), ..ProptestConfig::default() })]

    #[test]
    fn dagpb_round_trips(node in node_strategy()) {
        let bytes = node.encode();
        prop_assert_eq!(Node::decode(&bytes).unwrap(), node);
    }

    #[test]
    fn dagpb_decoder_never_panics_and_accepts_only_canonical_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(node) = Node::decode(&bytes) {
            // Strict decoding: whatever decodes re-encodes to the same bytes (one encoding per node).
            prop_assert_eq!(&node.encode(), &bytes);
        }
        let _ = Data::decode(&bytes);
        let _ = Cid::from_bytes(&bytes);
        let _ = String::from_utf8_lossy(&bytes).parse::<Cid>();
    }

    #[test]
    fn car_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(mut r) = car::Reader::new(bytes.as_slice()) {
            while let Ok(Some((cid, data))) = r.next_block() {
                prop_assert!(cid.verify(&data));
            }
        }
    }

    #[test]
    fn mutated_cars_yield_only_verified_blocks(pos in any::<prop::sample::Index>(), flip in 1u8..=255, cut in any::<prop::sample::Index>()) {
        let mut car = sample_car();
        let i = pos.index(car.len());
        car[i] ^= flip;
        car.truncate(cut.index(car.len() + 1).max(1));
        let store = Store::memory();
        match store.import_car(car.as_slice()) {
            // Nothing stored from a CAR that fails anywhere.
            Err(_) => prop_assert_eq!(store.stats().unwrap(), (0, 0)),
            Ok(_) => {
                // The mutation kept the CAR valid (a clean cut, or a changed root CID in the header): every
                // block in it verifies against its CID, and exactly those blocks were stored.
                let mut r = car::Reader::new(car.as_slice()).unwrap();
                let mut n = 0;
                while let Some((cid, data)) = r.next_block().unwrap() {
                    prop_assert!(cid.verify(&data));
                    prop_assert!(store.has(&cid).unwrap());
                    n += 1;
                }
                prop_assert_eq!(store.stats().unwrap().0, n);
            }
        }
    }
}

// ---- Crafted trees through the exporter: nothing is written outside the output folder, ever. ----------------

/// Cases of the exporter properties: small by default (they run in `make test`), many under `make fuzz`
/// (`OCEAN_FUZZ_CASES=100000`).
fn fuzz_cases(default: u32) -> u32 {
    std::env::var("OCEAN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Entry names: few, so duplicates are common, plus each kind of name the decoder must refuse.
fn name_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["evil", "a", "b"]).prop_map(str::to_owned),
        2 => "[a-c]{1,2}",
        1 => prop::sample::select(vec!["", ".", "..", "x/y", "/", "n\0l", "../outside"]).prop_map(str::to_owned),
    ]
}

/// Symlink targets; `{OUT}` stands for the absolute path of the folder an escape would reach.
const TARGETS: &[&str] = &[
    "{OUT}",
    "{OUT}/planted",
    "../outside",
    "../../outside",
    "../../../outside/planted",
    "evil",
    "a/b",
    "/",
    ".",
];

#[derive(Debug, Clone)]
enum Spec {
    File(Vec<u8>),
    Symlink(usize),
    Dir(Vec<(String, Spec)>),
    /// A one-level sharded directory: (bucket, name, entry); buckets collide on purpose.
    Hamt(Vec<(u8, String, Spec)>),
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let leaf = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Spec::File),
        (0..TARGETS.len()).prop_map(Spec::Symlink),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec((name_strategy(), inner.clone()), 0..4).prop_map(Spec::Dir),
            proptest::collection::vec((0u8..3, name_strategy(), inner), 0..4).prop_map(Spec::Hamt),
        ]
    })
}

/// Whether exporting the tree must fail: a name the decoder refuses (bad alone, or twice in one directory,
/// HAMT buckets and sub-shards included), or a HAMT link `XX` (a sub-shard) to something that is not a shard.
fn must_fail(spec: &Spec) -> bool {
    let bad = |names: &[&str]| {
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        sorted.len() != names.len()
            || names
                .iter()
                .any(|n| n.is_empty() || *n == "." || *n == ".." || n.contains('/') || n.contains('\0'))
    };
    match spec {
        Spec::File(_) | Spec::Symlink(_) => false,
        Spec::Dir(e) => {
            bad(&e.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()) || e.iter().any(|(_, s)| must_fail(s))
        }
        Spec::Hamt(_) => {
            let mut names = Vec::new();
            let mut children = Vec::new();
            if !flatten(spec, &mut names, &mut children) {
                return true;
            }
            bad(&names) || children.into_iter().any(must_fail)
        }
    }
}

/// The entries of a sharded directory: an empty name is the link `XX` to a sub-shard, whose entries belong to
/// the same directory. False if such a link leads to something that is not a shard.
fn flatten<'a>(spec: &'a Spec, names: &mut Vec<&'a str>, children: &mut Vec<&'a Spec>) -> bool {
    let Spec::Hamt(entries) = spec else { return false };
    for (_, n, s) in entries {
        if n.is_empty() {
            if !flatten(s, names, children) {
                return false;
            }
        } else {
            names.push(n);
            children.push(s);
        }
    }
    true
}

/// Blocks of a crafted tree, in the order a CAR carries them (root first).
#[derive(Default)]
struct Blocks(Vec<(Cid, Vec<u8>)>);

impl Blocks {
    fn put(&mut self, node: &Node) -> Cid {
        let block = node.encode();
        let cid = Cid::hash_block(Version::V1, DAG_PB, &block);
        self.0.push((cid, block));
        cid
    }

    fn build(&mut self, spec: &Spec, outside: &str) -> Cid {
        let link = |cid, name: String| Link { cid, name: Some(name), tsize: Some(0) };
        match spec {
            Spec::File(bytes) => {
                let cid = Cid::hash_block(Version::V1, RAW, bytes);
                self.0.push((cid, bytes.clone()));
                cid
            }
            Spec::Symlink(i) => {
                let target = TARGETS[*i].replace("{OUT}", outside);
                let data = Data { data: Some(target.into_bytes()), ..Data::new(Kind::Symlink) };
                self.put(&Node { links: Vec::new(), data: Some(data.encode()) })
            }
            Spec::Dir(entries) => {
                let links = entries.iter().map(|(n, s)| link(self.build(s, outside), n.clone())).collect();
                self.put(&Node { links, data: Some(Data::new(Kind::Directory).encode()) })
            }
            Spec::Hamt(entries) => {
                let links = entries
                    .iter()
                    .map(|(b, n, s)| link(self.build(s, outside), format!("{b:02X}{n}")))
                    .collect();
                let data = Data {
                    data: Some(vec![0x07]),
                    hash_type: Some(0x22),
                    fanout: Some(256),
                    ..Data::new(Kind::HamtShard)
                };
                self.put(&Node { links, data: Some(data.encode()) })
            }
        }
    }

    /// The blocks as a CARv1 with `root`, root block first.
    fn car(&self, root: &Cid) -> Vec<u8> {
        let mut w = car::Writer::new(Vec::new(), &[*root]).unwrap();
        for (cid, data) in self.0.iter().rev() {
            w.write_block(cid, data).unwrap();
        }
        w.finish().unwrap()
    }
}

/// Exports `root` into a fresh output folder beside `outside/` and checks nothing outside it changed.
fn export_contained(
    store: &Store,
    root: &Cid,
    scene: &Scene,
) -> Result<Result<(), ocean_store::Error>, TestCaseError> {
    let before = scene.around_out();
    let result = store.get(root, scene.out());
    prop_assert_eq!(scene.around_out(), before, "the export wrote outside its output folder");
    Ok(result)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn crafted_trees_never_leave_the_output_folder(spec in spec_strategy()) {
        let scene = Scene::new();
        let mut blocks = Blocks::default();
        let root = blocks.build(&spec, scene.outside().to_str().unwrap());
        let store = Store::memory();
        store.put_blocks(&blocks.0).unwrap();
        let result = export_contained(&store, &root, &scene)?;
        if must_fail(&spec) {
            prop_assert!(result.is_err(), "a tree with an unsafe name was exported");
        } else {
            prop_assert!(result.is_ok(), "a safe tree was refused: {:?}", result);
        }
    }

    #[test]
    fn mutated_cars_of_crafted_trees_never_leave_the_output_folder(
        spec in spec_strategy(),
        pos in any::<prop::sample::Index>(),
        flip in 0u8..=255,
    ) {
        let scene = Scene::new();
        let mut blocks = Blocks::default();
        let root = blocks.build(&spec, scene.outside().to_str().unwrap());
        let mut car = blocks.car(&root);
        let i = pos.index(car.len());
        car[i] ^= flip;
        let store = Store::memory();
        if let Ok(roots) = store.import_car(car.as_slice()) {
            for root in roots {
                let _ = export_contained(&store, &root, &scene)?;
                let _ = std::fs::remove_dir_all(scene.out());
                let _ = std::fs::remove_file(scene.out());
            }
        }
    }

    #[test]
    fn random_directory_nodes_never_leave_the_output_folder(
        names in proptest::collection::vec(name_strategy(), 0..6),
        picks in proptest::collection::vec(0usize..4, 6),
        hamt in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let scene = Scene::new();
        let outside = scene.outside().to_str().unwrap().to_owned();
        let mut blocks = Blocks::default();
        // Children to link to: a file, a symlink out, a directory holding a file, and random dag-pb bytes.
        let file = blocks.build(&Spec::File(b"pwned".to_vec()), &outside);
        let out_link = blocks.build(&Spec::Symlink(0), &outside);
        let sub = blocks.build(&Spec::Dir(vec![("planted".into(), Spec::File(b"x".to_vec()))]), &outside);
        let junk = Cid::hash_block(Version::V1, DAG_PB, &bytes);
        blocks.0.push((junk, bytes));
        let pool = [file, out_link, sub, junk];
        let links = names
            .iter()
            .zip(&picks)
            .map(|(n, &p)| Link { cid: pool[p], name: Some(if hamt { format!("0A{n}") } else { n.clone() }), tsize: None })
            .collect();
        let data = if hamt {
            Data { data: Some(vec![1]), hash_type: Some(0x22), fanout: Some(256), ..Data::new(Kind::HamtShard) }
        } else {
            Data::new(Kind::Directory)
        };
        let block = Node { links, data: Some(data.encode()) }.encode();
        let root = Cid::hash_block(Version::V1, DAG_PB, &block);
        blocks.0.push((root, block));
        let store = Store::memory();
        store.put_blocks(&blocks.0).unwrap();
        let _ = export_contained(&store, &root, &scene)?;
    }
}
