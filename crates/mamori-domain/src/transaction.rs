//! Transactions that need a fresh OTP (取引認証), and the hash a receipt carries so the bank can
//! prove what was authorised and detect a changed amount or payee.

use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

use crate::policy::TransactionKind;

/// Where the money goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    /// The payee's bank code (金融機関コード), e.g. `1344`.
    pub bank_code: String,
    /// The branch code (支店コード).
    pub branch_code: String,
    /// The account number (口座番号).
    pub account_number: String,
    /// The account name (受取人名), as the bank shows it.
    pub account_name: String,
}

/// A transaction to authorise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// What it is.
    pub kind: TransactionKind,
    /// The amount as a decimal string (`"150000"`); never a float.
    pub amount: String,
    /// ISO 4217 currency, `JPY` by default.
    pub currency: String,
    /// The payee, for transfers and payments.
    pub payee: Option<Payee>,
}

/// Why a transaction is not well-formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The amount is not a non-negative decimal number.
    #[error("amount: a decimal number as a string, e.g. \"150000\"")]
    Amount,
    /// The currency is not three capital letters.
    #[error("currency: three capital letters, e.g. \"JPY\"")]
    Currency,
    /// A payee field is empty, too long, or holds control or invisible characters.
    #[error("payee.{0}: 1 to {1} visible characters")]
    Payee(&'static str, usize),
}

/// Characters that change or hide what a text looks like on screen.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

impl Transaction {
    /// Checks the amount and currency.
    pub fn validate(&self) -> Result<(), TransactionError> {
        let mut parts = self.amount.splitn(2, '.');
        let whole = parts.next().unwrap_or("");
        let fraction = parts.next();
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
            return Err(TransactionError::Amount);
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(TransactionError::Currency);
        }
        if let Some(payee) = &self.payee {
            // What the customer's phone shows and signs must look like what it is: no control,
            // bidi or zero-width characters that could disguise an account name.
            for (field, value, max) in [
                ("bank_code", &payee.bank_code, 16),
                ("branch_code", &payee.branch_code, 16),
                ("account_number", &payee.account_number, 32),
                ("account_name", &payee.account_name, 100),
            ] {
                let count = value.chars().count();
                if count == 0 || count > max || value.chars().any(is_hidden) {
                    return Err(TransactionError::Payee(field, max));
                }
            }
        }
        Ok(())
    }

    /// The canonical form that is hashed: JSON with keys in lexical order, no whitespace,
    /// every value a string (RFC 8785 JCS for this shape), so any system can recompute it.
    pub fn canonical_json(&self) -> String {
        let mut object = serde_json::Map::new();
        object.insert("amount".into(), self.amount.clone().into());
        object.insert("currency".into(), self.currency.clone().into());
        object.insert("kind".into(), self.kind.as_str().into());
        if let Some(payee) = &self.payee {
            let mut p = serde_json::Map::new();
            p.insert("account_name".into(), payee.account_name.clone().into());
            p.insert("account_number".into(), payee.account_number.clone().into());
            p.insert("bank_code".into(), payee.bank_code.clone().into());
            p.insert("branch_code".into(), payee.branch_code.clone().into());
            object.insert("payee".into(), serde_json::Value::Object(p));
        }
        // serde_json's map keeps keys sorted (no preserve_order feature in this workspace).
        serde_json::Value::Object(object).to_string()
    }

    /// Reads back a [`Transaction::canonical_json`] (as stored beside a push approval); `None`
    /// for anything of another shape.
    pub fn from_canonical_json(text: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let object = value.as_object()?;
        let text_of = |map: &serde_json::Map<String, serde_json::Value>, key: &str| {
            map.get(key)?.as_str().map(str::to_owned)
        };
        let payee = match object.get("payee") {
            None => None,
            Some(payee) => {
                let p = payee.as_object()?;
                Some(Payee {
                    bank_code: text_of(p, "bank_code")?,
                    branch_code: text_of(p, "branch_code")?,
                    account_number: text_of(p, "account_number")?,
                    account_name: text_of(p, "account_name")?,
                })
            }
        };
        Some(Self {
            kind: TransactionKind::from_keyword(&text_of(object, "kind")?)?,
            amount: text_of(object, "amount")?,
            currency: text_of(object, "currency")?,
            payee,
        })
    }

    /// SHA-256 of the canonical form, lowercase hex.
    pub fn hash(&self) -> String {
        HEXLOWER.encode(&Sha256::digest(self.canonical_json().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(amount: &str) -> Transaction {
        Transaction {
            kind: TransactionKind::Transfer,
            amount: amount.into(),
            currency: "JPY".into(),
            payee: Some(Payee {
                bank_code: "1344".into(),
                branch_code: "001".into(),
                account_number: "1234567".into(),
                account_name: "ｼﾞｮｳﾅﾝ ﾀﾛｳ".into(),
            }),
        }
    }

    #[test]
    fn the_canonical_form_is_sorted_and_compact() {
        assert_eq!(
            transfer("150000").canonical_json(),
            r#"{"amount":"150000","currency":"JPY","kind":"transfer","payee":{"account_name":"ｼﾞｮｳﾅﾝ ﾀﾛｳ","account_number":"1234567","bank_code":"1344","branch_code":"001"}}"#
        );
    }

    /// The worked example of the README's receipts section: a bank that sent no `currency`
    /// hashes with `"currency":"JPY"` filled in, exactly as here.
    #[test]
    fn the_readme_worked_example_hashes_as_documented() {
        assert_eq!(
            transfer("150000").hash(),
            "edef4b51d806f742d2250ea1c8e63d46852b527c3410de78c12a1b7dd6d05dff"
        );
    }

    #[test]
    fn a_payee_must_look_like_what_it_is() {
        assert_eq!(transfer("150000").validate(), Ok(()));
        let with_name = |name: &str| {
            let mut t = transfer("150000");
            if let Some(p) = t.payee.as_mut() {
                p.account_name = name.into();
            }
            t.validate()
        };
        for bad in ["", "ﾏﾓﾘ\u{202E}ｳﾛﾀ", "A\u{200B}B", "A\nB", &"ｱ".repeat(101)] {
            assert_eq!(
                with_name(bad),
                Err(TransactionError::Payee("account_name", 100)),
                "{bad:?}"
            );
        }
        assert_eq!(with_name("城北 太郎"), Ok(()));
    }

    #[test]
    fn any_change_changes_the_hash() {
        let base = transfer("150000");
        assert_eq!(base.hash(), transfer("150000").hash());
        assert_ne!(base.hash(), transfer("150001").hash());
        let mut other_payee = base.clone();
        if let Some(p) = other_payee.payee.as_mut() {
            p.account_number = "7654321".into();
        }
        assert_ne!(base.hash(), other_payee.hash());
    }

    #[test]
    fn the_canonical_form_reads_back_exactly() {
        let transfer = transfer("150000");
        let back = Transaction::from_canonical_json(&transfer.canonical_json());
        assert_eq!(back.as_ref(), Some(&transfer));
        let payment = Transaction {
            kind: TransactionKind::Payeasy,
            amount: "5000".into(),
            currency: "JPY".into(),
            payee: None,
        };
        assert_eq!(
            Transaction::from_canonical_json(&payment.canonical_json()),
            Some(payment)
        );
        assert_eq!(Transaction::from_canonical_json(r#"{"kind":"gift"}"#), None);
    }

    #[test]
    fn amounts_are_decimal_strings() {
        assert!(transfer("150000").validate().is_ok());
        assert!(transfer("1500.50").validate().is_ok());
        for bad in ["", "-1", "1e5", "1,000", "１０００", "12.", ".5"] {
            assert_eq!(
                transfer(bad).validate(),
                Err(TransactionError::Amount),
                "{bad}"
            );
        }
    }
}
