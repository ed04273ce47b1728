//! The dag-pb codec: `PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }`.
//!
//! Encoding follows the dag-pb spec byte for byte (links first, then data; within a link: hash, name, tsize),
//! which is what makes our CIDs equal to kubo's and Helia's. Decoding is strict, as `@ipld/dag-pb` is: fields
//! in canonical order, no duplicates, no unknown fields, every link has a valid CID.

use crate::cid::{self, Cid, varint};

/// Errors from decoding a dag-pb block.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The protobuf framing is broken (truncated field, bad varint, bad wire type).
    #[error("malformed dag-pb: {0}")]
    Malformed(&'static str),
    /// A link's hash is not a CID this store understands.
    #[error("dag-pb link has an invalid CID: {0}")]
    Cid(#[from] cid::Error),
    /// A link name is not UTF-8.
    #[error("dag-pb link name is not UTF-8")]
    Name,
}

/// A link of a dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The child.
    pub cid: Cid,
    /// Entry name (directories) or `Some("")` (file chunks, as kubo and Helia write them).
    pub name: Option<String>,
    /// Cumulative size of the child DAG in bytes (its blocks' encoded sizes summed).
    pub tsize: Option<u64>,
}

/// A decoded dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// Links, in encoded order.
    pub links: Vec<Link>,
    /// The `Data` field (for UnixFS, an encoded [`crate::unixfs::Data`]).
    pub data: Option<Vec<u8>>,
}

impl Node {
    /// Encodes the node in canonical dag-pb form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.as_ref().map_or(0, Vec::len) + 48 * self.links.len() + 8);
        let mut link_buf = Vec::with_capacity(64);
        for link in &self.links {
            link_buf.clear();
            let cid_len = link.cid.encoded_len();
            link_buf.push(0x0a);
            varint::write(&mut link_buf, cid_len as u64);
            link.cid.write_bytes(&mut link_buf);
            if let Some(name) = &link.name {
                link_buf.push(0x12);
                varint::write(&mut link_buf, name.len() as u64);
                link_buf.extend_from_slice(name.as_bytes());
            }
            if let Some(tsize) = link.tsize {
                link_buf.push(0x18);
                varint::write(&mut link_buf, tsize);
            }
            out.push(0x12);
            varint::write(&mut out, link_buf.len() as u64);
            out.extend_from_slice(&link_buf);
        }
        if let Some(data) = &self.data {
            out.push(0x0a);
            varint::write(&mut out, data.len() as u64);
            out.extend_from_slice(data);
        }
        out
    }

    /// Decodes a dag-pb block strictly.
    pub fn decode(bytes: &[u8]) -> Result<Node, Error> {
        let mut node = Node::default();
        let mut r = Reader { bytes, pos: 0 };
        while !r.done() {
            let (field, wire) = r.key()?;
            if wire != 2 {
                return Err(Error::Malformed("PBNode field has a wire type other than bytes"));
            }
            let value = r.bytes()?;
            match field {
                1 => {
                    if node.data.is_some() {
                        return Err(Error::Malformed("duplicate Data field"));
                    }
                    node.data = Some(value.to_vec());
                }
                2 => {
                    if node.data.is_some() {
                        return Err(Error::Malformed("Links after Data"));
                    }
                    node.links.push(decode_link(value)?);
                }
                _ => return Err(Error::Malformed("unknown PBNode field")),
            }
        }
        Ok(node)
    }
}

fn decode_link(bytes: &[u8]) -> Result<Link, Error> {
    let mut r = Reader { bytes, pos: 0 };
    let mut cid = None;
    let mut name = None;
    let mut tsize = None;
    let mut last = 0;
    while !r.done() {
        let (field, wire) = r.key()?;
        if field <= last {
            return Err(Error::Malformed("PBLink fields out of order or duplicated"));
        }
        last = field;
        match (field, wire) {
            (1, 2) => cid = Some(Cid::from_bytes(r.bytes()?)?),
            (2, 2) => name = Some(String::from_utf8(r.bytes()?.to_vec()).map_err(|_| Error::Name)?),
            (3, 0) => tsize = Some(r.varint()?),
            _ => return Err(Error::Malformed("unknown PBLink field or wire type")),
        }
    }
    let cid = cid.ok_or(Error::Malformed("PBLink without Hash"))?;
    Ok(Link { cid, name, tsize })
}

/// A cursor over protobuf bytes; shared with the UnixFS decoder.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Error> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let (v, used) = varint::read(rest).ok_or(Error::Malformed("bad varint"))?;
        self.pos += used;
        Ok(v)
    }

    pub(crate) fn key(&mut self) -> Result<(u64, u64), Error> {
        let k = self.varint()?;
        Ok((k >> 3, k & 7))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let len = usize::try_from(self.varint()?).map_err(|_| Error::Malformed("length overflows"))?;
        let end = self.pos.checked_add(len).ok_or(Error::Malformed("length overflows"))?;
        let value = self.bytes.get(self.pos..end).ok_or(Error::Malformed("field runs past the end"))?;
        self.pos = end;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cid::{RAW, Version};

    #[test]
    fn round_trip() {
        let child = Cid::hash_block(Version::V1, RAW, b"hello");
        let node = Node {
            links: vec![
                Link { cid: child, name: Some(String::new()), tsize: Some(5) },
                Link { cid: child, name: None, tsize: None },
            ],
            data: Some(vec![8, 2]),
        };
        let bytes = node.encode();
        assert_eq!(Node::decode(&bytes).unwrap(), node);
    }

    #[test]
    fn rejects_bad_forms() {
        assert!(Node::decode(&[0x0a, 0x05, 1]).is_err()); // truncated data
        assert!(Node::decode(&[0x0a, 0x00, 0x12, 0x00]).is_err()); // link after data
        assert!(Node::decode(&[0x0a, 0x00, 0x0a, 0x00]).is_err()); // duplicate data
        assert!(Node::decode(&[0x1a, 0x00]).is_err()); // unknown field
        assert!(Node::decode(&[0x12, 0x00]).is_err()); // link without hash
        assert!(Node::decode(&[0x08, 0x01]).is_err()); // varint where bytes expected
        assert_eq!(Node::decode(&[]).unwrap(), Node::default());
    }
}
