//! Uniform random numbers from the OS CSPRNG for what customers read and type: the user ID of a
//! token issued by mail, the number of a push approval's challenge.

use crate::error::ServiceError;

/// A number in `0..bound`, every value equally likely: bytes at or above the largest multiple
/// of `bound` are drawn again rather than folded onto the low values.
pub(crate) fn below(bound: u8) -> Result<u8, ServiceError> {
    let limit = 256 - 256 % u16::from(bound.max(1));
    loop {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).map_err(|e| ServiceError::Internal(e.to_string()))?;
        if u16::from(byte[0]) < limit {
            return Ok(byte[0] % bound.max(1));
        }
    }
}

/// `n` decimal digits.
pub(crate) fn digits(n: usize) -> Result<String, ServiceError> {
    (0..n)
        .map(|_| below(10).map(|d| char::from(b'0' + d)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_range_and_cover_it() {
        let mut seen = [false; 90];
        for _ in 0..5000 {
            let n = below(90).expect("random");
            seen[usize::from(n)] = true;
        }
        assert!(seen.iter().all(|s| *s), "every value drawn in 5000 tries");
        let id = digits(10).expect("random");
        assert_eq!(id.len(), 10);
        assert!(id.bytes().all(|c| c.is_ascii_digit()), "{id}");
    }
}
