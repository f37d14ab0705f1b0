//! Folding what Japanese users actually type into the ASCII the formats are defined in.
//!
//! Japanese input methods produce full-width forms (`１２３`, `ＡＢＣ`) and the ideographic
//! space (U+3000) as readily as ASCII, and a customer cannot see the difference. These
//! helpers map exactly those forms and nothing else: blanket Unicode normalisation (NFKC)
//! would also turn `①` or `²` into digits, and `char::is_numeric` accepts Arabic-Indic
//! digits, neither of which a token ever displays.

/// Maps a full-width ASCII digit or letter to its ASCII form; every other character is
/// returned unchanged.
///
/// - U+FF10..=U+FF19 (`０`..`９`) → `'0'..='9'`
/// - U+FF21..=U+FF3A (`Ａ`..`Ｚ`) → `'A'..='Z'`
/// - U+FF41..=U+FF5A (`ａ`..`ｚ`) → `'a'..='z'`
pub fn fold_width(c: char) -> char {
    // The full-width block mirrors ASCII 0x21..=0x7E at a fixed distance.
    const OFFSET: u32 = 0xFF10 - '0' as u32;
    match c {
        '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
            char::from_u32(c as u32 - OFFSET).unwrap_or(c)
        }
        _ => c,
    }
}

/// Whether `c` is a blank a user may type between groups of characters: ASCII space,
/// tab, or the ideographic space U+3000.
pub(crate) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{3000}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_alphanumerics() {
        let folded: String = "０１２３４５６７８９ＡＺａｚ"
            .chars()
            .map(fold_width)
            .collect();
        assert_eq!(folded, "0123456789AZaz");
    }

    #[test]
    fn leaves_everything_else_alone() {
        for c in ['0', 'a', '①', '٣', '＋', '－', '\u{3000}', 'ー', '漢'] {
            assert_eq!(fold_width(c), c);
        }
    }

    #[test]
    fn blanks() {
        assert!(is_blank(' ') && is_blank('\t') && is_blank('\u{3000}'));
        assert!(!is_blank('\n') && !is_blank('\u{00A0}') && !is_blank('_'));
    }
}
