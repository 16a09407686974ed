//! Protobuf wire primitives: just enough to walk a message field by field without decoding it into owned
//! types, and to write length-delimited fields. See <https://protobuf.dev/programming-guides/encoding/>.

/// Why bytes are not a well-formed OTLP trace message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A field, length or varint runs past the end of its message.
    #[error("truncated message")]
    Truncated,
    /// A varint longer than 10 bytes.
    #[error("invalid varint")]
    Varint,
    /// Field number 0, a tag beyond 32 bits, or wire type 6/7.
    #[error("invalid field tag")]
    Tag,
    /// A known field with the wrong wire type.
    #[error("field {field}: wire type {found} is not the schema's")]
    WireType {
        /// Field number.
        field: u32,
        /// Wire type found.
        found: u8,
    },
    /// A string field that is not UTF-8 (proto3 strings must be).
    #[error("field {field}: string is not valid UTF-8")]
    Utf8 {
        /// Field number.
        field: u32,
    },
    /// Messages nested deeper than [`MAX_DEPTH`] (prost's limit too): a stack-exhaustion attack otherwise.
    #[error("messages nested deeper than {MAX_DEPTH} levels")]
    Depth,
    /// An end-group tag without its start, or groups that do not match.
    #[error("unbalanced group")]
    Group,
}

/// Deepest nesting accepted, as prost's decoder.
pub const MAX_DEPTH: u32 = 100;

/// Wire type of varints.
pub const VARINT: u8 = 0;
/// Wire type of 64-bit fixed fields.
pub const I64: u8 = 1;
/// Wire type of length-delimited fields (strings, bytes, messages).
pub const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
/// Wire type of 32-bit fixed fields.
pub const I32: u8 = 5;

/// One field's value, borrowed from the message.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    I64(u64),
    /// Wire type 2.
    Len(&'a [u8]),
    /// Wire type 5.
    I32(u32),
    /// A (deprecated) group, skipped.
    Group,
}

impl Value<'_> {
    fn wire_type(&self) -> u8 {
        match self {
            Value::Varint(_) => VARINT,
            Value::I64(_) => I64,
            Value::Len(_) => LEN,
            Value::I32(_) => I32,
            Value::Group => START_GROUP,
        }
    }
}

/// Reads the fields of one message in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over one message's bytes.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Offset of the next field.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, WireError> {
        // One-byte varints (tags, short lengths) are the common case.
        match self.buf.get(self.pos) {
            Some(b) if *b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(*b))
            }
            _ => self.long_varint(),
        }
    }

    #[inline(never)]
    fn long_varint(&mut self) -> Result<u64, WireError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let mut v = 0u64;
        for (i, b) in rest.iter().take(10).enumerate() {
            v |= u64::from(b & 0x7f) << (7 * i);
            if *b < 0x80 {
                if i == 9 && *b > 1 {
                    return Err(WireError::Varint);
                }
                self.pos += i + 1;
                return Ok(v);
            }
        }
        if rest.len() < 10 {
            Err(WireError::Truncated)
        } else {
            Err(WireError::Varint)
        }
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    #[inline]
    fn key(&mut self) -> Result<(u32, u8), WireError> {
        let key = self.varint()?;
        // As prost: a key beyond 32 bits is invalid, whatever its field number.
        let key = u32::try_from(key).map_err(|_| WireError::Tag)?;
        let field = key >> 3;
        if field == 0 {
            return Err(WireError::Tag);
        }
        Ok((field, (key & 7) as u8))
    }

    /// The value of a field whose key was read. The four wire types OTLP uses are handled inline; groups
    /// (deprecated, only ever unknown fields here) and invalid wire types out of line, which also keeps this
    /// function non-recursive so that it inlines into the schema walk.
    #[inline]
    fn value(&mut self, field: u32, wire: u8, depth: u32) -> Result<Value<'a>, WireError> {
        Ok(match wire {
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
                Value::Len(self.take(n)?)
            }
            VARINT => Value::Varint(self.varint()?),
            I64 => {
                let b = self.take(8)?;
                Value::I64(u64::from_le_bytes(b.try_into().map_err(|_| WireError::Truncated)?))
            }
            I32 => {
                let b = self.take(4)?;
                Value::I32(u32::from_le_bytes(b.try_into().map_err(|_| WireError::Truncated)?))
            }
            _ => self.rare_value(field, wire, depth)?,
        })
    }

    #[cold]
    #[inline(never)]
    fn rare_value(&mut self, field: u32, wire: u8, depth: u32) -> Result<Value<'a>, WireError> {
        match wire {
            START_GROUP => {
                self.skip_group(field, depth + 1)?;
                Ok(Value::Group)
            }
            END_GROUP => Err(WireError::Group),
            _ => Err(WireError::Tag),
        }
    }

    fn skip_group(&mut self, group: u32, depth: u32) -> Result<(), WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError::Depth);
        }
        loop {
            let (field, wire) = self.key()?;
            if wire == END_GROUP {
                return if field == group { Ok(()) } else { Err(WireError::Group) };
            }
            self.value(field, wire, depth)?;
        }
    }

    /// Whether the message has no more fields.
    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next field's key (`field << 3 | wire type`), for schema code that matches on whole keys: one
    /// branch per field instead of one on the field and one on the wire type.
    #[inline]
    pub fn tag(&mut self) -> Result<u32, WireError> {
        let key = self.varint()?;
        // As prost: a key beyond 32 bits is invalid, whatever its field number.
        let key = u32::try_from(key).map_err(|_| WireError::Tag)?;
        if key >> 3 == 0 {
            return Err(WireError::Tag);
        }
        Ok(key)
    }

    /// A length-delimited value (after its key).
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
        self.take(n)
    }

    /// A varint value (after its key).
    #[inline]
    pub fn read_varint(&mut self) -> Result<u64, WireError> {
        self.varint()
    }

    /// A fixed64 value (after its key).
    #[inline]
    pub fn read_fixed64(&mut self) -> Result<u64, WireError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| WireError::Truncated)?))
    }

    /// A fixed32 value (after its key).
    #[inline]
    pub fn read_fixed32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().map_err(|_| WireError::Truncated)?))
    }

    /// A field the schema code did not match: an error when its number is in `known` (a bit per field number
    /// below 32, so a known field with the wrong wire type), else skipped as an unknown field.
    #[cold]
    #[inline(never)]
    pub fn other(&mut self, key: u32, known: u32, depth: u32) -> Result<(), WireError> {
        let (field, wire) = (key >> 3, (key & 7) as u8);
        if field < 32 && known & (1 << field) != 0 {
            return Err(WireError::WireType { field, found: wire });
        }
        self.value(field, wire, depth).map(|_| ())
    }

    /// The next field (number, value), or `None` at the end of the message. `depth` is this message's nesting,
    /// for groups.
    #[inline]
    pub fn next_field(&mut self, depth: u32) -> Result<Option<(u32, Value<'a>)>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let (field, wire) = self.key()?;
        Ok(Some((field, self.value(field, wire, depth)?)))
    }
}

fn mismatch(field: u32, v: &Value<'_>) -> WireError {
    WireError::WireType {
        field,
        found: v.wire_type(),
    }
}

/// The bytes of a length-delimited field, or a wire-type error naming it.
#[inline]
pub fn len<'a>(field: u32, v: Value<'a>) -> Result<&'a [u8], WireError> {
    match v {
        Value::Len(b) => Ok(b),
        other => Err(mismatch(field, &other)),
    }
}

/// A string field, checked to be UTF-8.
#[inline]
pub fn string<'a>(field: u32, v: Value<'a>) -> Result<&'a str, WireError> {
    utf8(field, len(field, v)?)
}

/// `b` as UTF-8. Attribute keys and values are mostly short ASCII: checked inline first, which is several
/// times faster than the general validation's call on strings of a few bytes.
#[inline]
pub fn utf8(field: u32, b: &[u8]) -> Result<&str, WireError> {
    if b.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b).map_err(|_| WireError::Utf8 { field })
}

/// Bytes a varint of `v` takes (prost's formula).
pub fn varint_len(v: u64) -> usize {
    ((((v | 1).leading_zeros() ^ 63) * 9 + 73) / 64) as usize
}

/// Appends `v` as a varint.
pub fn put_varint(out: &mut impl bytes::BufMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

/// Bytes a length-delimited field `field` of `len` bytes takes, tag and length included.
pub fn len_field_size(field: u32, len: usize) -> usize {
    varint_len(u64::from(field) << 3 | u64::from(LEN)) + varint_len(len as u64) + len
}

/// Appends the tag and length of a length-delimited field `field`; its `len` bytes must follow.
pub fn put_len_header(out: &mut impl bytes::BufMut, field: u32, len: usize) {
    put_varint(out, u64::from(field) << 3 | u64::from(LEN));
    put_varint(out, len as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_their_lengths_agree() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            assert_eq!(out.len(), prost::encoding::encoded_len_varint(v), "{v}");
            let mut r = Reader::new(&out);
            assert_eq!(r.varint(), Ok(v));
        }
        assert_eq!(Reader::new(&[0xff; 11]).varint(), Err(WireError::Varint));
        assert_eq!(Reader::new(&[0x80]).varint(), Err(WireError::Truncated));
    }

    #[test]
    fn fields_are_read_and_malformed_ones_refused() {
        // field 1 varint 150, field 2 "hi", field 3 fixed64, field 4 group { field 5 varint } end
        let msg = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x19, 1, 0, 0, 0, 0, 0, 0, 0, 0x23, 0x28, 0x01, 0x24,
        ];
        let mut r = Reader::new(&msg);
        assert!(matches!(r.next_field(0), Ok(Some((1, Value::Varint(150))))));
        assert!(matches!(r.next_field(0), Ok(Some((2, Value::Len(b"hi"))))));
        assert!(matches!(r.next_field(0), Ok(Some((3, Value::I64(1))))));
        assert!(matches!(r.next_field(0), Ok(Some((4, Value::Group)))));
        assert!(matches!(r.next_field(0), Ok(None)));
        assert_eq!(
            Reader::new(&[0x12, 0x05, b'a']).next_field(0).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(Reader::new(&[0x00, 0x00]).next_field(0).err(), Some(WireError::Tag));
        assert_eq!(Reader::new(&[0x24]).next_field(0).err(), Some(WireError::Group));
        assert_eq!(Reader::new(&[0x0f]).next_field(0).err(), Some(WireError::Tag));
        let mut deep = vec![0x0b; 200];
        deep.extend([0x0c; 200]);
        assert_eq!(Reader::new(&deep).next_field(0).err(), Some(WireError::Depth));
    }
}
