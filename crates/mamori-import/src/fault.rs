//! What can be wrong with a seed file, in the operator's language. No fault carries a value
//! from the file.

use std::fmt;

use mamori_domain::error_code::Lang;

/// A fault and the line of the file it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: u32,
    /// What is wrong.
    pub fault: Fault,
}

/// What is wrong with a seed file or one token in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Not well-formed XML; the parser's own words (positions, never content).
    NotXml(String),
    /// Well-formed XML, but not a PSKC `KeyContainer` of version 1.0.
    NotPskc,
    /// The file declares a DTD, which PSKC files never need (and which could expand).
    DtdRefused,
    /// No token in the file.
    NoTokens,
    /// More tokens than one import takes.
    TooManyTokens(usize),
    /// Faults beyond those shown.
    MoreFaults(usize),
    /// A key package has no key.
    NoKey,
    /// Neither `DeviceInfo/SerialNo` nor a key `Id`.
    SerialMissing,
    /// The serial is not 4 to 32 letters and digits.
    SerialMalformed,
    /// The serial has the shape of a Mamori-issued credential ID.
    SerialLooksIssued,
    /// The serial appears earlier in the file.
    DuplicateSerial {
        /// Where it first appears.
        first_line: u32,
    },
    /// A token with this serial exists already.
    SerialTaken,
    /// The key's algorithm is neither HOTP nor TOTP (e.g. OCRA, challenge-response).
    AlgorithmUnsupported,
    /// The HMAC hash is not SHA-1, SHA-256 or SHA-512.
    HashUnsupported,
    /// The response is not 6 to 8 decimal digits.
    DigitsUnsupported,
    /// The TOTP time step is not 1 to 300 seconds.
    PeriodUnsupported,
    /// The TOTP clock does not start at the Unix epoch, or the token has a recorded drift.
    TimeOriginUnsupported,
    /// A number field is not a whole number.
    NotANumber(&'static str),
    /// The key has no secret.
    SecretMissing,
    /// The secret is not valid base64 (PSKC), base32 or hex (CSV).
    SecretEncoding,
    /// The secret is shorter or longer than accepted.
    SecretLength {
        /// Fewest bytes accepted.
        min: usize,
        /// Most bytes accepted.
        max: usize,
    },
    /// Encrypted key packages, but no pre-shared key was given.
    PskRequired,
    /// The pre-shared key's length does not fit the encryption algorithm.
    PskLength,
    /// The encryption algorithm is not AES-CBC.
    EncryptionUnsupported,
    /// Keys encrypted under a password (PBKDF2) rather than a pre-shared key.
    PasswordEncryptionUnsupported,
    /// An encrypted value without a MAC, or a MAC without a MAC key.
    MacMissing,
    /// The MAC algorithm is not HMAC-SHA1 or HMAC-SHA256.
    MacUnsupported,
    /// The MAC does not match: the wrong pre-shared key, or an altered file.
    MacMismatch,
    /// The value does not decrypt: the wrong pre-shared key, or a damaged file.
    DecryptFailed,
    /// The CSV has no header line naming its columns.
    CsvHeader,
    /// A CSV header names a column this import does not know (its position, from 1: the name
    /// is not quoted, as a file without a header would have a seed there).
    CsvUnknownColumn(usize),
    /// A CSV header lacks a required column.
    CsvMissingColumn(&'static str),
    /// A CSV line cannot be read (quoting, or a different number of fields).
    CsvLine,
    /// The type is neither `totp` nor `hotp`.
    KindUnknown,
}

impl Fault {
    /// A stable code for the fault, e.g. `secret_length`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotXml(_) => "not_xml",
            Self::NotPskc => "not_pskc",
            Self::DtdRefused => "dtd_refused",
            Self::NoTokens => "no_tokens",
            Self::TooManyTokens(_) => "too_many_tokens",
            Self::MoreFaults(_) => "more_faults",
            Self::NoKey => "no_key",
            Self::SerialMissing => "serial_missing",
            Self::SerialMalformed => "serial_malformed",
            Self::SerialLooksIssued => "serial_looks_issued",
            Self::DuplicateSerial { .. } => "serial_duplicate",
            Self::SerialTaken => "serial_taken",
            Self::AlgorithmUnsupported => "algorithm_unsupported",
            Self::HashUnsupported => "hash_unsupported",
            Self::DigitsUnsupported => "digits_unsupported",
            Self::PeriodUnsupported => "period_unsupported",
            Self::TimeOriginUnsupported => "time_origin_unsupported",
            Self::NotANumber(_) => "not_a_number",
            Self::SecretMissing => "secret_missing",
            Self::SecretEncoding => "secret_encoding",
            Self::SecretLength { .. } => "secret_length",
            Self::PskRequired => "psk_required",
            Self::PskLength => "psk_length",
            Self::EncryptionUnsupported => "encryption_unsupported",
            Self::PasswordEncryptionUnsupported => "password_encryption_unsupported",
            Self::MacMissing => "mac_missing",
            Self::MacUnsupported => "mac_unsupported",
            Self::MacMismatch => "mac_mismatch",
            Self::DecryptFailed => "decrypt_failed",
            Self::CsvHeader => "csv_header",
            Self::CsvUnknownColumn(_) => "csv_unknown_column",
            Self::CsvMissingColumn(_) => "csv_missing_column",
            Self::CsvLine => "csv_line",
            Self::KindUnknown => "kind_unknown",
        }
    }

    /// The fault in the operator's language.
    pub fn message(&self, lang: Lang) -> String {
        let ja = lang == Lang::Ja;
        let text = |ja_text: &str, en_text: &str| {
            if ja {
                ja_text.to_owned()
            } else {
                en_text.to_owned()
            }
        };
        match self {
            Self::NotXml(why) => {
                if ja {
                    format!("XML として読めません（{why}）。")
                } else {
                    format!("Not well-formed XML ({why}).")
                }
            }
            Self::NotPskc => text(
                "PSKC 1.0 の KeyContainer ではありません。",
                "Not a PSKC 1.0 KeyContainer.",
            ),
            Self::DtdRefused => text(
                "DTD を含むファイルは受け付けません。",
                "Files with a DTD are refused.",
            ),
            Self::NoTokens => text("トークンが1件もありません。", "The file holds no token."),
            Self::TooManyTokens(max) => {
                if ja {
                    format!("1回に取り込めるのは{max}件までです。ファイルを分けてください。")
                } else {
                    format!("At most {max} tokens per import; split the file.")
                }
            }
            Self::MoreFaults(more) => {
                if ja {
                    format!("ほかに{more}件の誤りがあります。")
                } else {
                    format!("{more} more faults are not shown.")
                }
            }
            Self::NoKey => text(
                "KeyPackage に Key がありません。",
                "The key package has no Key.",
            ),
            Self::SerialMissing => text(
                "シリアル番号（DeviceInfo/SerialNo または Key の Id）がありません。",
                "No serial number (DeviceInfo/SerialNo or the Key's Id).",
            ),
            Self::SerialMalformed => text(
                "シリアル番号は英数字4〜32文字にしてください。",
                "A serial number must be 4 to 32 letters and digits.",
            ),
            Self::SerialLooksIssued => text(
                "シリアル番号が Mamori の発行するクレデンシャルIDと同じ形式です。",
                "The serial number has the form of a credential ID Mamori issues.",
            ),
            Self::DuplicateSerial { first_line } => {
                if ja {
                    format!("同じシリアル番号が{first_line}行目にもあります。")
                } else {
                    format!("The same serial number is on line {first_line}.")
                }
            }
            Self::SerialTaken => text(
                "このシリアル番号のトークンは登録済みです。",
                "A token with this serial number exists already.",
            ),
            Self::AlgorithmUnsupported => text(
                "HOTP・TOTP 以外のアルゴリズムには対応していません。",
                "Only HOTP and TOTP keys can be imported.",
            ),
            Self::HashUnsupported => text(
                "ハッシュは HMAC-SHA1・SHA256・SHA512 のいずれかにしてください。",
                "The hash must be HMAC-SHA1, SHA256 or SHA512.",
            ),
            Self::DigitsUnsupported => text(
                "桁数は10進6〜8桁にしてください。",
                "Codes must be 6 to 8 decimal digits.",
            ),
            Self::PeriodUnsupported => text(
                "時間間隔は1〜300秒にしてください。",
                "The time step must be 1 to 300 seconds.",
            ),
            Self::TimeOriginUnsupported => text(
                "時刻の起点が Unix 時刻0でないトークン、または時刻ずれを持つトークンには対応していません。",
                "Tokens whose clock starts elsewhere than the Unix epoch, or with a recorded drift, are not supported.",
            ),
            Self::NotANumber(field) => {
                if ja {
                    format!("{field} は0以上の整数にしてください。")
                } else {
                    format!("{field} must be a whole number.")
                }
            }
            Self::SecretMissing => text("シークレットがありません。", "The key has no secret."),
            Self::SecretEncoding => text(
                "シークレットの符号化が正しくありません（PSKC は base64、CSV の secret は base32、secret_hex は16進）。",
                "The secret is not encoded as expected (base64 in PSKC; base32 in a CSV's secret column, hex in secret_hex).",
            ),
            Self::SecretLength { min, max } => {
                if ja {
                    format!("シークレットは{min}〜{max}バイトにしてください。")
                } else {
                    format!("The secret must be {min} to {max} bytes.")
                }
            }
            Self::PskRequired => text(
                "暗号化されたファイルです。事前共有鍵を指定してください。",
                "The keys are encrypted: give the pre-shared key.",
            ),
            Self::PskLength => text(
                "事前共有鍵の長さが暗号方式に合いません（AES-128 は16バイト、AES-256 は32バイト）。",
                "The pre-shared key's length does not fit the cipher (16 bytes for AES-128, 32 for AES-256).",
            ),
            Self::EncryptionUnsupported => text(
                "暗号方式は AES-CBC（128/192/256）にしてください。",
                "The encryption must be AES-CBC (128, 192 or 256).",
            ),
            Self::PasswordEncryptionUnsupported => text(
                "パスワードによる暗号化（PBKDF2）には対応していません。事前共有鍵で暗号化したファイルを依頼してください。",
                "Password-based encryption (PBKDF2) is not supported; ask for a file encrypted with a pre-shared key.",
            ),
            Self::MacMissing => text(
                "暗号化された値に MAC（または MAC 鍵）がありません。",
                "An encrypted value has no MAC, or the file no MAC key.",
            ),
            Self::MacUnsupported => text(
                "MAC は HMAC-SHA1 か HMAC-SHA256 にしてください。",
                "The MAC must be HMAC-SHA1 or HMAC-SHA256.",
            ),
            Self::MacMismatch => text(
                "MAC が一致しません。事前共有鍵が違うか、ファイルが改変されています。",
                "The MAC does not match: a wrong pre-shared key, or an altered file.",
            ),
            Self::DecryptFailed => text(
                "復号できません。事前共有鍵が違うか、ファイルが壊れています。",
                "Cannot decrypt: a wrong pre-shared key, or a damaged file.",
            ),
            Self::CsvHeader => text(
                "1行目に列名（serial,secret,type,digits,period）を書いてください。",
                "The first line must name the columns (serial,secret,type,digits,period).",
            ),
            Self::CsvUnknownColumn(position) => {
                if ja {
                    format!(
                        "1行目の{position}列目は既知の列名ではありません（serial,secret,secret_hex,type,digits,period,counter,algorithm）。"
                    )
                } else {
                    format!(
                        "Column {position} of the first line is not a known column name (serial, secret, secret_hex, type, digits, period, counter, algorithm)."
                    )
                }
            }
            Self::CsvMissingColumn(name) => {
                if ja {
                    format!("列「{name}」がありません。")
                } else {
                    format!("The column \"{name}\" is missing.")
                }
            }
            Self::CsvLine => text(
                "この行を読めません（引用符または列の数）。",
                "This line cannot be read (quoting, or the number of fields).",
            ),
            Self::KindUnknown => text(
                "type は totp か hotp にしてください。",
                "The type must be totp or hotp.",
            ),
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.fault.message(Lang::En))
    }
}
