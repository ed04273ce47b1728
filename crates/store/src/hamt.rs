//! Reading HAMT-sharded UnixFS directories (kubo and Helia shard directories above 256 KiB).
//!
//! A shard node's links are named `XX` (two upper-case hex digits: a sub-shard) or `XXname` (an entry).
//! Listing needs no hashing: every entry sits under exactly one prefix path. So a sub-shard linked twice (from
//! two buckets, or at two depths) is never valid, and refused at its second sight: a crafted DAG that shares
//! sub-shards would otherwise make a listing walk exponentially many paths to a handful of blocks.

use crate::Error;
use crate::blockstore::Blockstore;
use crate::cid::Cid;
use crate::dagpb::Node;
use crate::exporter::{Decoded, decode, load};
use crate::unixfs::Kind;

/// All (name, cid) entries of the sharded directory whose root node is `node` (named `cid`).
pub(crate) fn entries(store: &dyn Blockstore, cid: &Cid, node: &Node) -> Result<Vec<(String, Cid)>, Error> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::from([*cid]);
    let mut stack: Vec<(Cid, Vec<crate::dagpb::Link>)> = vec![(*cid, node.links.clone())];
    while let Some((_, links)) = stack.pop() {
        for link in links {
            // `check_shard` (run when each shard node was decoded) guarantees the two-digit prefix.
            let name = link.name.unwrap_or_default();
            if name.len() == 2 {
                if !seen.insert(link.cid) {
                    return Err(Error::Invalid(format!(
                        "{cid}: HAMT sub-shard {} is linked twice (a valid HAMT never shares one)",
                        link.cid
                    )));
                }
                match decode(&link.cid, load(store, &link.cid)?)? {
                    Decoded::Pb { node, unixfs: Some(d) } if d.kind == Kind::HamtShard => {
                        stack.push((link.cid, node.links));
                    }
                    _ => {
                        return Err(Error::Invalid(format!(
                            "{}: HAMT sub-shard is not a shard node",
                            link.cid
                        )));
                    }
                }
            } else {
                out.push((name[2..].to_owned(), link.cid));
            }
        }
    }
    out.sort();
    // An entry name in two buckets (or twice in one) is one path written twice.
    crate::exporter::check_names(cid, out.iter().map(|(n, _)| n.as_str()))?;
    Ok(out)
}

/// Checks the link names of one shard node: `XX` (a sub-shard) or `XXname` with a safe, unique `name`.
pub(crate) fn check_shard(cid: &Cid, node: &Node) -> Result<(), Error> {
    let mut names = Vec::with_capacity(node.links.len());
    for link in &node.links {
        let name = link.name.as_deref().unwrap_or_default();
        let prefix = name.as_bytes().get(..2);
        if !prefix.is_some_and(|p| p.iter().all(u8::is_ascii_hexdigit)) {
            return Err(Error::Invalid(format!("{cid}: HAMT link name {name:?} lacks its two-digit prefix")));
        }
        if name.len() > 2 {
            names.push(&name[2..]);
        }
    }
    crate::exporter::check_names(cid, names)
}

/// HAMT fanout used by kubo and Helia.
const FANOUT: usize = 256;
/// Multihash code of murmur3-x64-64, the HAMT hash function.
const MURMUR3: u64 = 0x22;

/// Builds a sharded directory from `entries`, writing every shard node to `sink`; returns the root.
pub(crate) fn build(
    sink: &mut dyn crate::importer::Sink,
    entries: &[crate::importer::Entry],
    opts: &crate::importer::ImportOptions,
) -> Result<(Cid, u64), Error> {
    let mut root = Bucket::default();
    for e in entries {
        root.insert(e, murmur3_x64_64(e.name.as_bytes()), 0)?;
    }
    root.flush(sink, opts)
}

#[derive(Default)]
struct Bucket<'e> {
    slots: std::collections::BTreeMap<u8, Slot<'e>>,
}

enum Slot<'e> {
    Leaf(&'e crate::importer::Entry, u64),
    Bucket(Box<Bucket<'e>>),
}

impl<'e> Bucket<'e> {
    /// Inserts at `depth`: one byte of the hash per level, most significant first (as kubo reads it).
    fn insert(&mut self, e: &'e crate::importer::Entry, hash: u64, depth: u32) -> Result<(), Error> {
        if depth >= 8 {
            return Err(Error::Invalid(format!(
                "HAMT hash collision on {:?} (64-bit hashes exhausted)",
                e.name
            )));
        }
        let index = (hash >> (56 - 8 * depth)) as u8;
        match self.slots.remove(&index) {
            None => {
                self.slots.insert(index, Slot::Leaf(e, hash));
            }
            Some(Slot::Leaf(other, _)) if other.name == e.name => {
                return Err(Error::Invalid(format!("duplicate directory entry {:?}", e.name)));
            }
            Some(Slot::Leaf(other, other_hash)) => {
                let mut b = Bucket::default();
                b.insert(other, other_hash, depth + 1)?;
                b.insert(e, hash, depth + 1)?;
                self.slots.insert(index, Slot::Bucket(Box::new(b)));
            }
            Some(Slot::Bucket(mut b)) => {
                b.insert(e, hash, depth + 1)?;
                self.slots.insert(index, Slot::Bucket(b));
            }
        }
        Ok(())
    }

    fn flush(
        &self,
        sink: &mut dyn crate::importer::Sink,
        opts: &crate::importer::ImportOptions,
    ) -> Result<(Cid, u64), Error> {
        let mut links = Vec::with_capacity(self.slots.len());
        let mut children = 0u64;
        // The occupied slots as a big-endian integer with bit i for slot i, without leading zero bytes.
        let mut bits = [0u8; FANOUT / 8];
        for (&index, slot) in &self.slots {
            bits[FANOUT / 8 - 1 - usize::from(index) / 8] |= 1 << (index % 8);
            let prefix = format!("{index:02X}");
            let (name, cid, tsize) = match slot {
                Slot::Leaf(e, _) => (format!("{prefix}{}", e.name), e.cid, e.tsize),
                Slot::Bucket(b) => {
                    let (cid, tsize) = b.flush(sink, opts)?;
                    (prefix, cid, tsize)
                }
            };
            children += tsize;
            links.push(crate::dagpb::Link { cid, name: Some(name), tsize: Some(tsize) });
        }
        let first = bits.iter().position(|&b| b != 0).unwrap_or(bits.len() - 1);
        let data = crate::unixfs::Data {
            data: Some(bits[first..].to_vec()),
            hash_type: Some(MURMUR3),
            fanout: Some(FANOUT as u64),
            ..crate::unixfs::Data::new(Kind::HamtShard)
        };
        let block = Node { links, data: Some(data.encode()) }.encode();
        let cid = Cid::hash_block(opts.cid_version, crate::cid::DAG_PB, &block);
        sink.put(&cid, &block)?;
        Ok((cid, block.len() as u64 + children))
    }
}

/// The first 64 bits (h1) of MurmurHash3 x64 128 with seed 0.
pub(crate) fn murmur3_x64_64(data: &[u8]) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        let mut k1 = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let mut k2 = u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1.rotate_left(27).wrapping_add(h2).wrapping_mul(5).wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2.rotate_left(31).wrapping_add(h1).wrapping_mul(5).wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let (mut k1, mut k2) = (0u64, 0u64);
    for (i, &b) in tail.iter().enumerate() {
        if i < 8 {
            k1 ^= u64::from(b) << (8 * i);
        } else {
            k2 ^= u64::from(b) << (8 * (i - 8));
        }
    }
    if tail.len() > 8 {
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    }
    if !tail.is_empty() {
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1.wrapping_add(h2)
}

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_the_reference() {
        // @multiformats/murmur3: murmur3128("hello") = cbd8a7b341bd9b02 5b1e906a48ae1d19 (h1 first).
        assert_eq!(murmur3_x64_64(b"hello"), 0xcbd8_a7b3_41bd_9b02);
    }
}
