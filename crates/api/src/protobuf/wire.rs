//! Protobuf wire format: splits an encoded message into numbered fields.

/// A field's value as found on the wire, before the schema gives it a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl WireValue<'_> {
    pub(super) fn wire_type_name(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "varint",
            WireValue::Fixed64(_) => "fixed64",
            WireValue::Bytes(_) => "length-delimited",
            WireValue::Fixed32(_) => "fixed32",
        }
    }
}

/// Why bytes are not a well-formed protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message is truncated")]
    Truncated,
    #[error("varint is longer than 10 bytes")]
    VarintTooLong,
    #[error("field number {0} is out of range")]
    BadFieldNumber(u64),
    #[error("wire type {0} is not supported")]
    BadWireType(u8),
}

/// Iterates over the `(field number, value)` pairs of one encoded message.
pub(super) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Fields { rest: bytes }
    }

    fn next_field(&mut self) -> Result<(u32, WireValue<'a>), WireError> {
        let key = read_varint(&mut self.rest)?;
        let number = key >> 3;
        if number == 0 || number > u64::from(MAX_FIELD_NUMBER) {
            return Err(WireError::BadFieldNumber(number));
        }
        let value = match key & 7 {
            0 => WireValue::Varint(read_varint(&mut self.rest)?),
            1 => WireValue::Fixed64(u64::from_le_bytes(self.take_array()?)),
            2 => {
                let len = read_varint(&mut self.rest)?;
                let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(self.take_array()?)),
            // Groups (3 and 4) are proto2 relics that no Kubernetes type uses.
            other => return Err(WireError::BadWireType(other as u8)),
        };
        Ok((number as u32, value))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < len {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| WireError::Truncated)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, WireValue<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.next_field();
        if item.is_err() {
            // Nothing after a malformed field can be trusted.
            self.rest = &[];
        }
        Some(item)
    }
}

const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// Reads one base-128 varint from the front of `bytes`, advancing it.
pub(super) fn read_varint(bytes: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Ok(value);
        }
    }
    if bytes.len() < 10 {
        Err(WireError::Truncated)
    } else {
        Err(WireError::VarintTooLong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> Result<Vec<(u32, WireValue<'_>)>, WireError> {
        Fields::new(bytes).collect()
    }

    #[test]
    fn fields_of_every_wire_type_are_split_in_order() {
        let bytes = [
            0x08, 0x96, 0x01, // 1: varint 150
            0x12, 0x02, b'h', b'i', // 2: "hi"
            0x19, 1, 0, 0, 0, 0, 0, 0, 0, // 3: fixed64 1
            0x25, 2, 0, 0, 0, // 4: fixed32 2
        ];
        assert_eq!(
            collect(&bytes).unwrap(),
            vec![
                (1, WireValue::Varint(150)),
                (2, WireValue::Bytes(b"hi")),
                (3, WireValue::Fixed64(1)),
                (4, WireValue::Fixed32(2)),
            ]
        );
    }

    #[test]
    fn length_running_past_the_end_is_truncation() {
        assert_eq!(collect(&[0x12, 0x05, b'a']), Err(WireError::Truncated));
    }

    #[test]
    fn unterminated_varint_is_truncation() {
        assert_eq!(collect(&[0x08, 0x80]), Err(WireError::Truncated));
    }

    #[test]
    fn eleven_byte_varint_is_rejected() {
        let mut bytes = vec![0x08];
        bytes.extend([0xff; 10]);
        bytes.push(0x01);
        assert_eq!(collect(&bytes), Err(WireError::VarintTooLong));
    }

    #[test]
    fn field_number_zero_is_rejected() {
        assert_eq!(collect(&[0x00, 0x01]), Err(WireError::BadFieldNumber(0)));
    }

    #[test]
    fn group_wire_types_are_rejected() {
        assert_eq!(collect(&[0x0b]), Err(WireError::BadWireType(3)));
    }

    #[test]
    fn negative_int32_uses_ten_byte_varint() {
        let mut bytes: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read_varint(&mut bytes).unwrap() as i64 as i32, -1);
        assert!(bytes.is_empty());
    }
}
