//! Header fields that the `tar` crate reads more leniently than GNU tar.
//!
//! A size too large for an octal field is written in base-256: a first byte of `0x80` (positive) or
//! `0xff` (negative), then the number, big-endian, in the field's other 11 bytes. The `tar` crate keeps
//! only the last 8 of them and ignores the first byte's sign, so a size of 2^64 + 5 reads as 5 and
//! a negative one as a large positive: the data that follows would be read as headers. GNU tar refuses
//! both ("Archive contains ... out of range"), and so does import, before the size is used.

/// Checks the raw 12-byte size field of a header; the error says what is wrong with it.
pub fn size_field(raw: &[u8; 12]) -> Result<(), String> {
    match raw[0] {
        b if b & 0x80 == 0 => Ok(()), // octal text, parsed (and checked) by the tar crate
        0x80 if raw[1..4].iter().all(|&b| b == 0) => Ok(()),
        0x80 => Err("its size field (base-256) is over 64 bits".into()),
        0xff => Err("its size field (base-256) is negative".into()),
        b => Err(format!(
            "its size field starts with byte {b:#04x}, neither octal nor base-256"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base256(value: u128, first: u8) -> [u8; 12] {
        let mut f = [0u8; 12];
        f[1..].copy_from_slice(&value.to_be_bytes()[16 - 11..]);
        f[0] = first;
        f
    }

    #[test]
    fn sizes_that_fit_in_64_bits_pass_the_others_are_refused() {
        assert!(size_field(b"00000000005\0").is_ok());
        assert!(size_field(&base256(u64::MAX as u128, 0x80)).is_ok());
        assert!(size_field(&base256(u64::MAX as u128 + 6, 0x80))
            .unwrap_err()
            .contains("over 64 bits"));
        assert!(size_field(&base256(1 << 80, 0x80)).is_err());
        assert!(size_field(&base256(5, 0xff))
            .unwrap_err()
            .contains("negative"));
        assert!(size_field(&base256(5, 0x81)).is_err());
    }
}
