//! Property tests (proptest) of the decoders that face untrusted bytes: dag-pb, UnixFS, CIDs, CAR.

use ocean_store::car;
use ocean_store::cid::{Cid, DAG_PB, RAW, Version};
use ocean_store::dagpb::{Link, Node};
use ocean_store::unixfs::Data;
use ocean_store::{ImportOptions, Store};
use proptest::prelude::*;

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
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

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
