//! Push approvals as the phone shows and answers them (プッシュ通知認証).
//!
//! The device vouches for what it showed: it recomputes the transaction's hash from the
//! transaction it displays (canonical JSON, [`Transaction::hash`]) and signs that hash. When
//! the server's `transaction_hash` differs, the device refuses to sign and warns: what the
//! customer would approve is not what the bank would execute.

use mamori_crypto::DeviceKeyPair;
use mamori_domain::PushDecision;
use mamori_domain::error_code::Lang;
use mamori_domain::policy::TransactionKind;
use mamori_domain::push::SignedAnswer;
use mamori_domain::transaction::{Payee, Transaction};
use serde::{Deserialize, Serialize};

/// A text in both languages.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Bilingual {
    /// Japanese.
    pub ja: String,
    /// English.
    pub en: String,
}

impl Bilingual {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

/// Where the money goes, as sent.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PayeeDto {
    /// 金融機関コード.
    pub bank_code: String,
    /// 支店コード.
    pub branch_code: String,
    /// 口座番号.
    pub account_number: String,
    /// 受取人名.
    pub account_name: String,
}

/// The transaction, as sent.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TransactionDto {
    /// `transfer`, `payeasy`, ….
    pub kind: String,
    /// Decimal string.
    pub amount: String,
    /// ISO 4217.
    pub currency: String,
    /// For transfers and payments.
    #[serde(default)]
    pub payee: Option<PayeeDto>,
}

/// One pending approval, as `GET …/approvals` lists it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Approval {
    /// `pa_…`.
    pub approval_id: String,
    /// The bank asking.
    pub bank_id: String,
    /// Its names.
    pub bank_name: Bilingual,
    /// What to approve.
    pub transaction: TransactionDto,
    /// The server's SHA-256 of the canonical transaction, hex.
    pub transaction_hash: String,
    /// The bank's own wording of the request.
    pub display: Bilingual,
    /// Whether the customer must pick the number the bank's screen shows.
    pub number_challenge: bool,
    /// When the bank asked.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the request lapses.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The listing.
#[derive(Debug, Clone, Deserialize)]
pub struct Approvals {
    /// Pending approvals, oldest first.
    pub approvals: Vec<Approval>,
}

/// The signed answer, as `POST /v1/token/approvals/:approval_id/answer` takes it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AnswerRequest {
    /// The answering token.
    pub credential_id: String,
    /// `approve` or `deny`.
    pub decision: &'static str,
    /// The number picked, for a number challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The hash the device computed from what it showed.
    pub transaction_hash: String,
    /// Unix seconds when signed.
    pub signed_at: i64,
    /// Ed25519 over [`SignedAnswer::message`], base64url.
    pub signature: String,
}

/// What the server says after an answer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AnswerResult {
    /// The approval.
    pub approval_id: String,
    /// `approved` or `denied`.
    pub status: String,
}

/// Why the device will not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The transaction cannot be read as one (unknown kind, bad amount): the device cannot
    /// know what it would approve.
    #[error("the transaction cannot be shown faithfully ({0}); not signing")]
    Unreadable(String),
    /// The server's hash is not the hash of the transaction shown.
    #[error(
        "the transaction shown does not match the server's transaction_hash (shown: {computed}, \
         server: {server}); not signing"
    )]
    HashMismatch {
        /// What the device computed.
        computed: String,
        /// What the server sent.
        server: String,
    },
}

/// The domain transaction the device displays, from the wire form.
pub fn transaction_of(dto: &TransactionDto) -> Result<Transaction, Refusal> {
    let kind = TransactionKind::from_keyword(&dto.kind)
        .ok_or_else(|| Refusal::Unreadable(format!("unknown kind {:?}", clean(&dto.kind))))?;
    let transaction = Transaction {
        kind,
        amount: dto.amount.clone(),
        currency: dto.currency.clone(),
        payee: dto.payee.as_ref().map(|p| Payee {
            bank_code: p.bank_code.clone(),
            branch_code: p.branch_code.clone(),
            account_number: p.account_number.clone(),
            account_name: p.account_name.clone(),
        }),
    };
    transaction
        .validate()
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    Ok(transaction)
}

/// The hash the device vouches for: its own, and only when the server's agrees.
pub fn vouched_hash(approval: &Approval) -> Result<String, Refusal> {
    let computed = transaction_of(&approval.transaction)?.hash();
    if computed.eq_ignore_ascii_case(approval.transaction_hash.trim()) {
        Ok(computed)
    } else {
        Err(Refusal::HashMismatch {
            computed,
            server: clean(&approval.transaction_hash),
        })
    }
}

/// The signed answer to `approval`. The number goes only with an approval.
pub fn sign_answer(
    approval: &Approval,
    credential_id: &str,
    device: &DeviceKeyPair,
    decision: PushDecision,
    number: Option<&str>,
    signed_at: i64,
) -> Result<AnswerRequest, Refusal> {
    let transaction_hash = vouched_hash(approval)?;
    let number = match decision {
        PushDecision::Approve => number.map(str::trim).filter(|n| !n.is_empty()),
        PushDecision::Deny => None,
    };
    let message = SignedAnswer {
        approval_id: &approval.approval_id,
        tenant_id: &approval.bank_id,
        transaction_hash: &transaction_hash,
        decision,
        number,
        signed_at,
    }
    .message();
    Ok(AnswerRequest {
        credential_id: credential_id.to_owned(),
        decision: decision.as_str(),
        number: number.map(str::to_owned),
        transaction_hash,
        signed_at,
        signature: device.sign(&message),
    })
}

/// The kind's name as the bank's screens say it.
pub fn kind_label(kind: &str, lang: Lang) -> String {
    let Some(kind) = TransactionKind::from_keyword(kind) else {
        return clean(kind);
    };
    let (ja, en) = match kind {
        TransactionKind::Transfer => ("振込・振替", "Transfer"),
        TransactionKind::Payeasy => ("税金・各種料金の払込み (Pay-easy)", "Pay-easy payment"),
        TransactionKind::DepositCancellation => ("定期預金 解約", "Time-deposit cancellation"),
        TransactionKind::SavingsCancellation => {
            ("定期積金 解約", "Instalment-savings cancellation")
        }
        TransactionKind::LimitChange => ("利用限度額変更", "Usage-limit change"),
        TransactionKind::ContractChange => ("契約者情報変更", "Contract-information change"),
    };
    match lang {
        Lang::Ja => ja.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// `150000` → `150,000`; `1500.50` → `1,500.50`. Anything else is shown as sent.
pub fn thousands(amount: &str) -> String {
    let (whole, fraction) = match amount.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (amount, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return clean(amount);
    }
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(f) => format!("{grouped}.{}", clean(f)),
        None => grouped,
    }
}

/// The amount with its currency: `150,000 円` in Japanese for yen, `150,000 JPY` otherwise.
pub fn money(amount: &str, currency: &str, lang: Lang) -> String {
    match (lang, currency) {
        (Lang::Ja, "JPY") => format!("{} 円", thousands(amount)),
        _ => format!("{} {}", thousands(amount), clean(currency)),
    }
}

/// The approval as the phone shows it, in `lang`, with the time left by the device's clock.
pub fn render(approval: &Approval, lang: Lang, device_unix: i64) -> String {
    let t = &approval.transaction;
    let left = approval.expires_at.timestamp() - device_unix;
    let bank = clean(approval.bank_name.get(lang));
    let bank_id = clean(&approval.bank_id);
    let mut lines = Vec::new();
    let (kind, amount) = (
        kind_label(&t.kind, lang),
        money(&t.amount, &t.currency, lang),
    );
    match lang {
        Lang::Ja => {
            lines.push(format!("{bank} ({bank_id}) からの承認依頼"));
            lines.push(format!("  取引      {kind}"));
            lines.push(format!("  金額      {amount}"));
            if let Some(p) = &t.payee {
                lines.push(format!(
                    "  振込先    {}  金融機関 {}  支店 {}  口座番号 {}",
                    clean(&p.account_name),
                    clean(&p.bank_code),
                    clean(&p.branch_code),
                    clean(&p.account_number)
                ));
            }
            lines.push(format!("  内容      {}", clean(approval.display.get(lang))));
            lines.push(if left > 0 {
                format!("  残り時間  {left} 秒")
            } else {
                "  残り時間  期限切れ".to_owned()
            });
            if approval.number_challenge {
                lines.push("  銀行の画面に表示されている番号を確認してください。".to_owned());
            }
        }
        Lang::En => {
            lines.push(format!("Approval request from {bank} ({bank_id})"));
            lines.push(format!("  Transaction  {kind}"));
            lines.push(format!("  Amount       {amount}"));
            if let Some(p) = &t.payee {
                lines.push(format!(
                    "  Payee        {}  bank {}  branch {}  account {}",
                    clean(&p.account_name),
                    clean(&p.bank_code),
                    clean(&p.branch_code),
                    clean(&p.account_number)
                ));
            }
            lines.push(format!(
                "  Details      {}",
                clean(approval.display.get(lang))
            ));
            lines.push(if left > 0 {
                format!("  Time left    {left} s")
            } else {
                "  Time left    expired".to_owned()
            });
            if approval.number_challenge {
                lines.push("  Check the number shown on the bank's screen.".to_owned());
            }
        }
    }
    lines.join("\n")
}

/// What the server sent, fit for a terminal: control characters (escape sequences that could
/// redraw the screen and hide the real payee) become spaces.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || is_invisible_format(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Bidi overrides and isolates, zero-width characters and line/paragraph separators: they can
/// make a payee's name display as something else than what is signed.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use mamori_crypto::DevicePublicKey;

    fn transfer() -> Approval {
        let transaction = TransactionDto {
            kind: "transfer".into(),
            amount: "150000".into(),
            currency: "JPY".into(),
            payee: Some(PayeeDto {
                bank_code: "0191".into(),
                branch_code: "001".into(),
                account_number: "1234567".into(),
                account_name: "ｷﾀｷｭｳ ﾀﾛｳ".into(),
            }),
        };
        let hash = transaction_of(&transaction).unwrap().hash();
        Approval {
            approval_id: "pa_1".into(),
            bank_id: "kitakyushu-bank".into(),
            bank_name: Bilingual {
                ja: "北九州銀行".into(),
                en: "Kitakyushu Bank".into(),
            },
            transaction,
            transaction_hash: hash,
            display: Bilingual {
                ja: "振込 150,000円を承認しますか".into(),
                en: "Approve a transfer of 150,000 yen?".into(),
            },
            number_challenge: false,
            created_at: DateTime::from_timestamp(1_795_339_800, 0).unwrap(),
            expires_at: DateTime::from_timestamp(1_795_339_920, 0).unwrap(),
        }
    }

    #[test]
    fn invisible_and_bidi_characters_cannot_disguise_a_payee() {
        assert_eq!(clean("ﾏﾓﾘ\u{202E}ｳﾛﾀ"), "ﾏﾓﾘ ｳﾛﾀ");
        assert_eq!(
            clean("A\u{200B}B\u{2066}C\u{2028}D\u{1b}[2J"),
            "A B C D [2J"
        );
        assert_eq!(clean("城北 太郎"), "城北 太郎");
    }

    #[test]
    fn amounts_get_thousands_separators_and_their_currency() {
        assert_eq!(thousands("150000"), "150,000");
        assert_eq!(thousands("1000000"), "1,000,000");
        assert_eq!(thousands("999"), "999");
        assert_eq!(thousands("1500.50"), "1,500.50");
        assert_eq!(thousands("12a"), "12a");
        assert_eq!(money("150000", "JPY", Lang::Ja), "150,000 円");
        assert_eq!(money("150000", "JPY", Lang::En), "150,000 JPY");
        assert_eq!(money("1500.50", "USD", Lang::Ja), "1,500.50 USD");
    }

    #[test]
    fn an_approval_shows_bank_kind_amount_payee_text_and_time_left() {
        let approval = transfer();
        let en = render(&approval, Lang::En, 1_795_339_805);
        for part in [
            "Kitakyushu Bank (kitakyushu-bank)",
            "Transfer",
            "150,000 JPY",
            "ｷﾀｷｭｳ ﾀﾛｳ  bank 0191  branch 001  account 1234567",
            "Approve a transfer of 150,000 yen?",
            "Time left    115 s",
        ] {
            assert!(en.contains(part), "{part} missing:\n{en}");
        }
        let ja = render(&approval, Lang::Ja, 1_795_339_805);
        for part in [
            "北九州銀行 (kitakyushu-bank) からの承認依頼",
            "振込・振替",
            "150,000 円",
            "口座番号 1234567",
            "振込 150,000円を承認しますか",
            "残り時間  115 秒",
        ] {
            assert!(ja.contains(part), "{part} missing:\n{ja}");
        }
        assert!(render(&approval, Lang::En, 1_795_340_000).contains("expired"));
    }

    #[test]
    fn escape_sequences_from_the_server_never_reach_the_terminal() {
        let mut approval = transfer();
        approval.display.en = "ok\u{1b}[2J\u{1b}[Hfake".into();
        let en = render(&approval, Lang::En, 1_795_339_805);
        assert!(!en.contains('\u{1b}'), "{en:?}");
    }

    #[test]
    fn the_device_signs_the_hash_of_what_it_showed() {
        let device = DeviceKeyPair::generate().unwrap();
        let public = DevicePublicKey::parse(&device.public().to_base64()).unwrap();
        let approval = transfer();
        let answer = sign_answer(
            &approval,
            "MAMO12345678",
            &device,
            PushDecision::Approve,
            Some(" 42 "),
            1_795_339_810,
        )
        .unwrap();
        assert_eq!(answer.decision, "approve");
        assert_eq!(answer.number.as_deref(), Some("42"));
        assert_eq!(answer.transaction_hash, approval.transaction_hash);
        let message = SignedAnswer {
            approval_id: "pa_1",
            tenant_id: "kitakyushu-bank",
            transaction_hash: &approval.transaction_hash,
            decision: PushDecision::Approve,
            number: Some("42"),
            signed_at: 1_795_339_810,
        }
        .message();
        assert_eq!(public.verify(&message, &answer.signature), Ok(true));
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["signed_at"], 1_795_339_810);
        assert_eq!(json["decision"], "approve");

        // A denial carries no number.
        let deny = sign_answer(
            &approval,
            "MAMO12345678",
            &device,
            PushDecision::Deny,
            Some("42"),
            1_795_339_810,
        )
        .unwrap();
        assert_eq!(deny.number, None);
        assert!(serde_json::to_value(&deny).unwrap().get("number").is_none());
    }

    #[test]
    fn a_transaction_that_does_not_match_its_hash_is_not_signed() {
        let device = DeviceKeyPair::generate().unwrap();
        let mut approval = transfer();
        // The server says one thing and hashes another: e.g. the amount was changed on the way.
        approval.transaction.amount = "1500000".into();
        let refused = sign_answer(
            &approval,
            "MAMO12345678",
            &device,
            PushDecision::Approve,
            None,
            1,
        );
        assert!(
            matches!(refused, Err(Refusal::HashMismatch { .. })),
            "{refused:?}"
        );
        let mut unknown = transfer();
        unknown.transaction.kind = "crypto_swap".into();
        assert!(matches!(
            sign_answer(
                &unknown,
                "MAMO12345678",
                &device,
                PushDecision::Approve,
                None,
                1
            ),
            Err(Refusal::Unreadable(_))
        ));
    }
}
