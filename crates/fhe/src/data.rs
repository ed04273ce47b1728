//! Encrypted data: input files (data owners encrypt with the public key) and outputs files (the requester
//! decrypts with the client key).

use std::fmt;

use tfhe::{
    CompactCiphertextList, FheBool, FheUint8, FheUint16, FheUint32, FheUint64,
    prelude::{CiphertextList, FheDecrypt},
    safe_serialization::safe_serialize,
};

use crate::{
    Error, Result,
    eval::{Ct, Value},
    format::{self, FileKind, Header, KeyId, ValueInfo},
    keys::{Client, MAX_KEY_BYTES, Public, de},
    program::{Scalar, Type},
};

/// Encrypts `values` as one value of type `ty` (a scalar takes exactly one value) with a public key; returns
/// the ciphertext file. Values must fit the width (bool: 0 or 1).
pub fn encrypt(public: &Public, ty: Type, values: &[u64]) -> Result<Vec<u8>> {
    if values.len() as u64 != ty.elements() {
        return Err(Error::Input(
            String::new(),
            format!("{} values given for type {ty} ({} needed)", values.len(), ty.elements()),
        ));
    }
    let mut builder = CompactCiphertextList::builder(&public.key);
    for v in values {
        if *v > ty.scalar.max() {
            return Err(Error::Value { value: v.to_string(), ty });
        }
        match ty.scalar {
            Scalar::Bool => builder.push(*v != 0),
            Scalar::U8 => builder.push(*v as u8),
            Scalar::U16 => builder.push(*v as u16),
            Scalar::U32 => builder.push(*v as u32),
            Scalar::U64 => builder.push(*v),
        };
    }
    let list = builder.build();
    let mut payload = Vec::new();
    safe_serialize(&list, &mut payload, MAX_KEY_BYTES).map_err(Error::tfhe)?;
    let mut header = Header::new(FileKind::Ciphertext, public.key_id);
    header.values = vec![ValueInfo { name: String::new(), ty, sizes: Vec::new() }];
    Ok(format::write(&header, &payload))
}

/// The key set and type of a ciphertext file, from its header alone (no tfhe-rs work).
pub fn peek_input(bytes: &[u8], what: &str) -> Result<(KeyId, Type)> {
    let (header, _, _) = format::read_kind(bytes, FileKind::Ciphertext, what)?;
    match header.values.as_slice() {
        [v] => Ok((header.key_id, v.ty)),
        _ => Err(Error::format(what, "a ciphertext file holds exactly one value")),
    }
}

/// Expands a ciphertext file into its elements, checking that tfhe-rs agrees with the header's type.
pub fn read_input(bytes: &[u8], what: &str) -> Result<Value> {
    let (_, ty) = peek_input(bytes, what)?;
    let (_, _, payload) = format::read(bytes, what)?;
    let list: CompactCiphertextList = de(payload, what)?;
    if list.len() as u64 != ty.elements() {
        return Err(Error::format(what, format!("holds {} ciphertexts, its header says {ty}", list.len())));
    }
    let expanded = list.expand().map_err(Error::tfhe)?;
    let wrong = || Error::format(what, format!("a ciphertext is not of the header's type {ty}"));
    let mut out = Vec::with_capacity(list.len());
    for i in 0..list.len() {
        macro_rules! get {
            ($v:ident, $t:ty) => {
                Ct::$v(expanded.get::<$t>(i).map_err(|_| wrong())?.ok_or_else(wrong)?)
            };
        }
        out.push(match ty.scalar {
            Scalar::Bool => get!(Bool, FheBool),
            Scalar::U8 => get!(U8, FheUint8),
            Scalar::U16 => get!(U16, FheUint16),
            Scalar::U32 => get!(U32, FheUint32),
            Scalar::U64 => get!(U64, FheUint64),
        });
    }
    Ok(out)
}

/// Bytes of one serialized element of `scalar` (upper bound used to check the output limit before a run).
pub fn element_bytes(scalar: Scalar) -> u64 {
    // (2048 + 1) 64-bit words per block with the parameters in use, plus a small header per ciphertext.
    scalar.blocks() * 2049 * 8 + 512
}

/// Writes the outputs file of a run.
pub fn write_outputs(key_id: KeyId, outputs: &[(String, Type)], values: &[Value]) -> Result<Vec<u8>> {
    let mut header = Header::new(FileKind::Outputs, key_id);
    let mut payload = Vec::new();
    for ((name, ty), value) in outputs.iter().zip(values) {
        let mut sizes = Vec::with_capacity(value.len());
        for ct in value {
            let before = payload.len();
            let r = match ct {
                Ct::Bool(x) => safe_serialize(x, &mut payload, MAX_KEY_BYTES),
                Ct::U8(x) => safe_serialize(x, &mut payload, MAX_KEY_BYTES),
                Ct::U16(x) => safe_serialize(x, &mut payload, MAX_KEY_BYTES),
                Ct::U32(x) => safe_serialize(x, &mut payload, MAX_KEY_BYTES),
                Ct::U64(x) => safe_serialize(x, &mut payload, MAX_KEY_BYTES),
            };
            r.map_err(Error::tfhe)?;
            sizes.push((payload.len() - before) as u64);
        }
        header.values.push(ValueInfo { name: name.clone(), ty: *ty, sizes });
    }
    Ok(format::write(&header, &payload))
}

/// A decrypted output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plain {
    /// Output name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Its elements (booleans as 0 and 1).
    pub values: Vec<u64>,
}

impl Plain {
    /// `name = value` or `name = [v, ...]`; with `signed`, integers read as two's complement of their width.
    pub fn render(&self, signed: bool) -> String {
        let bits = self.ty.scalar.bits();
        let show = |v: &u64| match self.ty.scalar {
            Scalar::Bool => (*v != 0).to_string(),
            _ if signed && bits < 64 && *v >= 1 << (bits - 1) => (*v as i64 - (1i64 << bits)).to_string(),
            _ if signed => (*v as i64).to_string(),
            _ => v.to_string(),
        };
        let vals: Vec<String> = self.values.iter().map(show).collect();
        match self.ty.len {
            None => format!("{} = {}", self.name, vals.join("")),
            Some(_) => format!("{} = [{}]", self.name, vals.join(", ")),
        }
    }
}

impl fmt::Display for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Decrypts an outputs file (or a ciphertext input file) with the client key.
pub fn decrypt(client: &Client, bytes: &[u8]) -> Result<Vec<Plain>> {
    let (header, _, payload) = format::read(bytes, "outputs")?;
    if header.key_id != client.key_id {
        return Err(Error::KeyMismatch {
            what: format!("this {}", header.kind),
            against: "the client key".into(),
            expected: client.key_id,
            found: header.key_id,
        });
    }
    match header.kind {
        FileKind::Outputs => {}
        FileKind::Ciphertext => {
            let value = read_input(bytes, "ciphertext")?;
            let ty =
                header.values.first().map(|v| v.ty).ok_or_else(|| Error::format("ciphertext", "no value"))?;
            return Ok(vec![Plain {
                name: String::new(),
                ty,
                values: value.iter().map(|c| dec(client, c)).collect(),
            }]);
        }
        found => return Err(Error::WrongFile { what: "decrypt".into(), expected: FileKind::Outputs, found }),
    }
    let mut out = Vec::new();
    let mut rest = payload;
    for info in &header.values {
        if info.sizes.len() as u64 != info.ty.elements() {
            return Err(Error::format(
                "outputs",
                format!("`{}` lists {} sizes", info.name, info.sizes.len()),
            ));
        }
        let mut values = Vec::new();
        for size in &info.sizes {
            let size = *size as usize;
            if size > rest.len() {
                return Err(Error::format("outputs", "truncated payload"));
            }
            let (one, tail) = rest.split_at(size);
            rest = tail;
            let ct = match info.ty.scalar {
                Scalar::Bool => Ct::Bool(de(one, "outputs")?),
                Scalar::U8 => Ct::U8(de(one, "outputs")?),
                Scalar::U16 => Ct::U16(de(one, "outputs")?),
                Scalar::U32 => Ct::U32(de(one, "outputs")?),
                Scalar::U64 => Ct::U64(de(one, "outputs")?),
            };
            values.push(dec(client, &ct));
        }
        out.push(Plain { name: info.name.clone(), ty: info.ty, values });
    }
    Ok(out)
}

fn dec(client: &Client, ct: &Ct) -> u64 {
    let k = &client.key;
    match ct {
        Ct::Bool(x) => u64::from(FheDecrypt::<bool>::decrypt(x, k)),
        Ct::U8(x) => u64::from(FheDecrypt::<u8>::decrypt(x, k)),
        Ct::U16(x) => u64::from(FheDecrypt::<u16>::decrypt(x, k)),
        Ct::U32(x) => u64::from(FheDecrypt::<u32>::decrypt(x, k)),
        Ct::U64(x) => FheDecrypt::<u64>::decrypt(x, k),
    }
}
