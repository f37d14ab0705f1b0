//! The catalogue of awkward code input seen from Japanese keyboards and copy-paste.

use mamori_otp::{CodeError, Digits, normalize_code};

fn six(input: &str) -> Result<String, CodeError> {
    normalize_code(input, Digits::SIX).map(|code| code.as_str().to_owned())
}

#[test]
fn accepted_inputs() {
    let cases = [
        ("123456", "123456"),
        ("081804", "081804"),
        ("12 345 6", "123456"),
        ("123\t456", "123456"),
        ("123\u{3000}456", "123456"),
        ("  123456  ", "123456"),
        ("１２３４５６", "123456"),
        ("１２３　４５６", "123456"),
        ("12345６", "123456"),
        ("０００００１", "000001"),
    ];
    for (input, expected) in cases {
        assert_eq!(six(input).as_deref(), Ok(expected), "{input:?}");
    }
}

#[test]
fn wrong_length() {
    let cases = [
        ("", 0),
        ("   ", 0),
        ("12345", 5),
        ("1234567", 7),
        ("１２３４５", 5),
    ];
    for (input, actual) in cases {
        assert_eq!(
            six(input),
            Err(CodeError::WrongLength {
                expected: 6,
                actual
            }),
            "{input:?}"
        );
    }
}

#[test]
fn not_digits() {
    let cases = [
        "12345a",
        "abcdef",
        "ＡＢＣＤＥＦ",
        "+12345",
        "-12345",
        "+123456",
        "123-456",
        "123.456",
        "1,23456",
        "١٢٣٤٥٦",       // Arabic-Indic digits: char::is_numeric accepts these
        "۱۲۳۴۵۶",       // Extended Arabic-Indic
        "१२३४५६",       // Devanagari
        "①②③④⑤⑥",       // circled digits: NFKC would turn these into 123456
        "¹²³⁴⁵⁶",       // superscripts: NFKC again
        "一二三四五六", // kanji numerals
        "123456\n",     // only space, tab and U+3000 count as blanks
        "123\u{00A0}456",
        "12345６\u{200B}",
    ];
    for input in cases {
        assert_eq!(six(input), Err(CodeError::NotDigits), "{input:?}");
    }
}

#[test]
fn length_follows_the_tokens_digit_count() {
    let eight = Digits::EIGHT;
    assert_eq!(
        normalize_code("0708 1804", eight).map(|c| c.as_str().to_owned()),
        Ok("07081804".to_owned())
    );
    assert_eq!(
        normalize_code("081804", eight),
        Err(CodeError::WrongLength {
            expected: 8,
            actual: 6
        })
    );
}
