//! `mamori token …`: the subcommands, over an injected clock and console so tests drive them
//! without a terminal or the wall clock.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use mamori_crypto::DeviceKeyPair;
use mamori_domain::error_code::Lang;
use mamori_domain::push::listing_message;
use mamori_domain::{Clock, PushDecision};
use mamori_otp::CredentialId;

use crate::approval::{self, Approval, Refusal};
use crate::client::{self, Client, ClientError, Issued};
use crate::code::{code_at, screen_line};
use crate::file::{self, FileError, StoredCredential, TokenFile};

/// `mamori token`: Mamori's own soft token, for customers and for demos and tests.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The token file [default: $XDG_CONFIG_HOME/mamori/token.json, else
    /// ~/.config/mamori/token.json].
    #[arg(long, env = "MAMORI_TOKEN_FILE", global = true)]
    pub file: Option<PathBuf>,
    /// Language of messages, of approvals and of the server's error details [default: from
    /// LC_ALL / LC_MESSAGES / LANG; Japanese when unset].
    #[arg(long, value_enum, global = true)]
    pub lang: Option<LangArg>,
    #[command(subcommand)]
    pub command: TokenCommand,
}

/// A language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    /// 日本語.
    Ja,
    /// English.
    En,
}

/// An answer given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnswerArg {
    /// 承認.
    Approve,
    /// 拒否.
    Deny,
}

/// The token's subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Get a new token from a Mamori server (with a device key for push approvals) and keep
    /// it in the token file; prints its credential ID.
    Provision {
        /// The Mamori server, e.g. https://mamori.example or http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// A name for this token in `list`.
        #[arg(long)]
        label: Option<String>,
        /// Also print the otpauth:// URI (it contains the secret).
        #[arg(long)]
        show_secret: bool,
    },
    /// Activate a token your bank issued by mail (トークン発行 → 利用開始). The activation
    /// password is read from MAMORI_ACTIVATION_PASSWORD, else asked for without echo (or read
    /// as one line from standard input when it is not a terminal).
    Activate {
        /// The Mamori server.
        #[arg(long)]
        server: String,
        /// The service ID from the bank's mail (the bank's ID).
        #[arg(long)]
        service_id: String,
        /// The user ID from the bank's mail.
        #[arg(long)]
        user_id: String,
        /// Also print the otpauth:// URI (it contains the secret).
        #[arg(long)]
        show_secret: bool,
    },
    /// Show the current code and how long it stays, like the app's screen.
    Code {
        /// The credential (required when the file holds several).
        #[arg(long)]
        credential: Option<String>,
        /// Seconds the phone's clock is off (positive = fast): shows the code of another time
        /// step, e.g. to demonstrate 同期ズレ補正 or to get the next step's code at once.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        clock_offset: i64,
        /// Print {"credential_id", "code", "seconds_left"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the credentials in the token file.
    List,
    /// List the banks this token is registered at (spends the current code).
    Banks {
        /// The credential (required when the file holds several).
        #[arg(long)]
        credential: Option<String>,
        /// Seconds the phone's clock is off (positive = fast), as for `code`.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        clock_offset: i64,
    },
    /// Wait for push approvals (プッシュ通知認証), show each and answer it, signed with the
    /// device key. Loops until Ctrl-C unless --once.
    Approvals {
        /// The credential (required when the file holds several).
        #[arg(long)]
        credential: Option<String>,
        /// Seconds the server holds each poll open when nothing is pending.
        /// The server holds a poll open at most 30 s.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=30))]
        wait: u32,
        /// Answer without asking (for scripts). Only with --once: a token that approved every
        /// request in a loop would defeat the point of asking the customer.
        #[arg(long, value_enum, requires = "once")]
        answer: Option<AnswerArg>,
        /// The number the bank's screen shows, for a number challenge, without asking.
        #[arg(long)]
        number: Option<String>,
        /// Handle the first approval and stop; with none pending after one poll, exit non-zero.
        #[arg(long)]
        once: bool,
    },
}

/// Why a token command failed. Each says what to do; none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The server.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The device would not sign.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A wrong or missing choice.
    #[error("{0}")]
    Usage(String),
    /// The console.
    #[error("console: {0}")]
    Console(#[from] std::io::Error),
}

/// Where the command talks to the person (or the script) running it.
pub struct Console<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error, for warnings.
    pub err: &'a mut dyn Write,
    /// Standard input.
    pub input: &'a mut dyn BufRead,
    /// Whether standard input is a terminal (ask for passwords without echo).
    pub interactive: bool,
}

impl std::fmt::Debug for Console<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("interactive", &self.interactive)
            .finish_non_exhaustive()
    }
}

impl Console<'_> {
    /// Asks a question; `None` at end of input.
    fn ask(&mut self, prompt: &str) -> std::io::Result<Option<String>> {
        write!(self.out, "{prompt}")?;
        self.out.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
    }
}

/// The language from the locale variables, Japanese when none is set.
pub fn lang_from_locale(locale: Option<&str>) -> Lang {
    match locale.map(str::trim) {
        None | Some("") => Lang::Ja,
        Some(l) if l.to_ascii_lowercase().starts_with("ja") => Lang::Ja,
        Some(_) => Lang::En,
    }
}

fn env_locale() -> Option<String> {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
}

/// Runs one `mamori token` command.
pub async fn run(
    args: TokenArgs,
    clock: &dyn Clock,
    console: &mut Console<'_>,
) -> Result<ExitCode, TokenError> {
    let lang = match args.lang {
        Some(LangArg::Ja) => Lang::Ja,
        Some(LangArg::En) => Lang::En,
        None => lang_from_locale(env_locale().as_deref()),
    };
    let path = match args.file {
        Some(path) => path,
        None => {
            let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
            let home = std::env::var_os("HOME").map(PathBuf::from);
            file::default_path(xdg.as_deref(), home.as_deref()).ok_or_else(|| {
                TokenError::Usage(
                    "no place for the token file: set --file or MAMORI_TOKEN_FILE (HOME is unset)"
                        .into(),
                )
            })?
        }
    };
    let ctx = Ctx { path, lang, clock };
    match args.command {
        TokenCommand::Provision {
            server,
            label,
            show_secret,
        } => ctx.provision(console, &server, label, show_secret).await,
        TokenCommand::Activate {
            server,
            service_id,
            user_id,
            show_secret,
        } => {
            ctx.activate(console, &server, &service_id, &user_id, show_secret)
                .await
        }
        TokenCommand::Code {
            credential,
            clock_offset,
            json,
        } => ctx.code(console, credential.as_deref(), clock_offset, json),
        TokenCommand::List => ctx.list(console),
        TokenCommand::Banks {
            credential,
            clock_offset,
        } => {
            ctx.banks(console, credential.as_deref(), clock_offset)
                .await
        }
        TokenCommand::Approvals {
            credential,
            wait,
            answer,
            number,
            once,
        } => {
            let answer = answer.map(|a| match a {
                AnswerArg::Approve => PushDecision::Approve,
                AnswerArg::Deny => PushDecision::Deny,
            });
            ctx.approvals(
                console,
                credential.as_deref(),
                Preset {
                    wait,
                    answer,
                    number,
                    once,
                },
            )
            .await
        }
    }
}

/// What `approvals` was told on the command line.
struct Preset {
    wait: u32,
    answer: Option<PushDecision>,
    number: Option<String>,
    once: bool,
}

struct Ctx<'a> {
    path: PathBuf,
    lang: Lang,
    clock: &'a dyn Clock,
}

/// Text in the chosen language.
fn tr(lang: Lang, ja: impl Into<String>, en: impl Into<String>) -> String {
    match lang {
        Lang::Ja => ja.into(),
        Lang::En => en.into(),
    }
}

impl Ctx<'_> {
    fn now_unix(&self) -> i64 {
        self.clock.now().timestamp()
    }

    async fn provision(
        &self,
        console: &mut Console<'_>,
        server: &str,
        label: Option<String>,
        show_secret: bool,
    ) -> Result<ExitCode, TokenError> {
        let server = client::normalise_server(server)?;
        // A broken file is reported before the server makes a credential nobody could keep.
        file::load_or_default(&self.path)?;
        let device = new_device_key()?;
        let issued = Client::new(&server, self.lang)?
            .provision(&device.public().to_base64())
            .await?;
        let label = label
            .map(|l| approval::clean(l.trim()))
            .filter(|l| !l.is_empty());
        let credential = self.keep(issued.clone(), &server, label, &device)?;
        writeln!(
            console.out,
            "{}: {}",
            tr(self.lang, "クレデンシャルID", "Credential ID"),
            credential.credential_id
        )?;
        if show_secret {
            writeln!(console.out, "{}", issued.otpauth_uri)?;
        }
        writeln!(
            console.out,
            "{}",
            tr(
                self.lang,
                format!(
                    "{} に保存しました。銀行の利用開始登録でこのIDと `mamori token code` のコードを入力してください。",
                    self.path.display()
                ),
                format!(
                    "Saved in {}. Register it at your bank with this ID and the code from `mamori token code`.",
                    self.path.display()
                )
            )
        )?;
        Ok(ExitCode::SUCCESS)
    }

    async fn activate(
        &self,
        console: &mut Console<'_>,
        server: &str,
        service_id: &str,
        user_id: &str,
        show_secret: bool,
    ) -> Result<ExitCode, TokenError> {
        let server = client::normalise_server(server)?;
        file::load_or_default(&self.path)?;
        let password = self.activation_password(console)?;
        let device = new_device_key()?;
        let issued = Client::new(&server, self.lang)?
            .activate(
                service_id.trim(),
                user_id.trim(),
                &password,
                &device.public().to_base64(),
            )
            .await?;
        let otpauth_uri = issued.otpauth_uri.clone();
        let credential = self.keep(issued, &server, None, &device)?;
        let bank = credential.service_id.clone().unwrap_or_default();
        writeln!(
            console.out,
            "{}: {} ({bank})",
            tr(
                self.lang,
                "利用開始しました。クレデンシャルID",
                "Activated. Credential ID"
            ),
            credential.credential_id
        )?;
        if show_secret {
            writeln!(console.out, "{otpauth_uri}")?;
        }
        writeln!(
            console.out,
            "{}",
            tr(
                self.lang,
                "次に、銀行の画面で `mamori token code` のコードを入力してワンタイムパスワードの利用を開始してください。",
                "Next, start OTP use on your bank's screen with the code from `mamori token code`."
            )
        )?;
        Ok(ExitCode::SUCCESS)
    }

    /// MAMORI_ACTIVATION_PASSWORD, else a prompt without echo, else one line of input.
    fn activation_password(&self, console: &mut Console<'_>) -> Result<String, TokenError> {
        let password = match std::env::var("MAMORI_ACTIVATION_PASSWORD") {
            Ok(p) if !p.is_empty() => p,
            _ if console.interactive => rpassword::prompt_password(tr(
                self.lang,
                "利用開始パスワード: ",
                "Activation password: ",
            ))?,
            _ => {
                let mut line = String::new();
                console.input.read_line(&mut line)?;
                line
            }
        };
        let password = password.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            return Err(TokenError::Usage(tr(
                self.lang,
                "利用開始パスワードが入力されていません (MAMORI_ACTIVATION_PASSWORD または標準入力)",
                "no activation password given (MAMORI_ACTIVATION_PASSWORD or standard input)",
            )));
        }
        Ok(password)
    }

    /// Checks what the server issued and saves it with the device key, into the file as it is
    /// now: another run may have added a credential while this one talked to the server.
    fn keep(
        &self,
        issued: Issued,
        server: &str,
        label: Option<String>,
        device: &DeviceKeyPair,
    ) -> Result<StoredCredential, TokenError> {
        let credential = StoredCredential {
            credential_id: issued.credential_id,
            server: server.to_owned(),
            label,
            service_id: issued.service_id,
            secret: issued.secret,
            algorithm: issued.algorithm,
            digits: issued.digits,
            period: issued.period,
            device_key_seed: Some(device.seed_base64()),
            created_at: self.clock.now(),
        };
        credential.otp().map_err(|reason| ClientError::Unexpected {
            server: server.to_owned(),
            reason: format!("credential {}: {reason}", credential.credential_id),
        })?;
        file::update(&self.path, |token_file| {
            token_file.credentials.retain(|c| {
                !(c.credential_id == credential.credential_id && c.server == credential.server)
            });
            token_file.credentials.push(credential.clone());
        })?;
        Ok(credential)
    }

    fn code(
        &self,
        console: &mut Console<'_>,
        wanted: Option<&str>,
        clock_offset: i64,
        json: bool,
    ) -> Result<ExitCode, TokenError> {
        let token_file = file::load(&self.path)?;
        let credential = select(&token_file, &self.path, wanted)?;
        let (id, code) = self.current_code(credential, clock_offset)?;
        if json {
            let value = serde_json::json!({
                "credential_id": id,
                "code": code.code,
                "seconds_left": code.seconds_left,
            });
            writeln!(console.out, "{value}")?;
        } else {
            writeln!(console.out, "{}", screen_line(&id, &code))?;
        }
        Ok(ExitCode::SUCCESS)
    }

    fn current_code(
        &self,
        credential: &StoredCredential,
        clock_offset: i64,
    ) -> Result<(String, crate::code::CodeNow), TokenError> {
        let (secret, params) = credential.otp().map_err(|reason| FileError::Corrupt {
            path: self.path.clone(),
            reason: format!("{}: {reason}", credential.credential_id),
        })?;
        let device_unix = self
            .now_unix()
            .checked_add(clock_offset)
            .and_then(|t| u64::try_from(t).ok())
            .ok_or_else(|| TokenError::Usage("--clock-offset: before 1970".into()))?;
        Ok((
            credential.credential_id.clone(),
            code_at(&secret, params, device_unix),
        ))
    }

    fn list(&self, console: &mut Console<'_>) -> Result<ExitCode, TokenError> {
        let token_file = file::load(&self.path)?;
        if token_file.credentials.is_empty() {
            writeln!(
                console.out,
                "{}",
                tr(
                    self.lang,
                    format!("{} にはまだトークンがありません", self.path.display()),
                    format!("no credentials in {} yet", self.path.display())
                )
            )?;
        }
        for c in &token_file.credentials {
            let key = match (self.lang, c.device_key_seed.is_some()) {
                (Lang::Ja, true) => "デバイス鍵あり",
                (Lang::Ja, false) => "デバイス鍵なし",
                (Lang::En, true) => "device key: yes",
                (Lang::En, false) => "device key: no",
            };
            let created = c
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let description = c.description();
            let mut line = format!("{}  {}", c.credential_id, c.server);
            if !description.is_empty() {
                line.push_str("  ");
                line.push_str(&description);
            }
            line.push_str(&format!(
                "  {key}  {} {created}",
                tr(self.lang, "作成", "created")
            ));
            writeln!(console.out, "{line}")?;
        }
        Ok(ExitCode::SUCCESS)
    }

    async fn banks(
        &self,
        console: &mut Console<'_>,
        wanted: Option<&str>,
        clock_offset: i64,
    ) -> Result<ExitCode, TokenError> {
        let token_file = file::load(&self.path)?;
        let credential = select(&token_file, &self.path, wanted)?;
        let (id, code) = self.current_code(credential, clock_offset)?;
        let listed = Client::new(&credential.server, self.lang)?
            .banks(&id, &code.code)
            .await?;
        if listed.banks.is_empty() {
            writeln!(
                console.out,
                "{}",
                tr(
                    self.lang,
                    format!("{id} はまだどの金融機関にも登録されていません"),
                    format!("{id} is not registered at any bank yet")
                )
            )?;
        } else {
            writeln!(
                console.out,
                "{}",
                tr(
                    self.lang,
                    format!("{id} の登録先 ({} 件):", listed.banks.len()),
                    format!("{id} is registered at {} bank(s):", listed.banks.len())
                )
            )?;
        }
        for bank in &listed.banks {
            let status = match (self.lang, bank.status.as_str()) {
                (Lang::Ja, "in_use") => "利用中".to_owned(),
                (Lang::Ja, "locked") => "ロック中 (銀行にロック解除を依頼してください)".to_owned(),
                (Lang::En, "in_use") => "in use".to_owned(),
                (Lang::En, "locked") => "locked (ask the bank to unlock it)".to_owned(),
                (_, other) => approval::clean(other),
            };
            writeln!(
                console.out,
                "  {}  {}  {status}  {} {}",
                approval::clean(&bank.bank_id),
                approval::clean(bank.bank_name.get(self.lang)),
                tr(self.lang, "登録", "since"),
                approval::clean(&bank.registered_at),
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }

    async fn approvals(
        &self,
        console: &mut Console<'_>,
        wanted: Option<&str>,
        preset: Preset,
    ) -> Result<ExitCode, TokenError> {
        let token_file = file::load(&self.path)?;
        let credential = select(&token_file, &self.path, wanted)?;
        let device = credential
            .device_key()
            .map_err(|reason| FileError::Corrupt {
                path: self.path.clone(),
                reason: format!("{}: {reason}", credential.credential_id),
            })?
            .ok_or_else(|| {
                TokenError::Usage(format!(
                    "{} has no device key, so it cannot answer push approvals",
                    credential.credential_id
                ))
            })?;
        let client = Client::new(&credential.server, self.lang)?;
        let id = credential.credential_id.as_str();
        let mut handled: HashSet<String> = HashSet::new();
        if !preset.once {
            writeln!(
                console.out,
                "{}",
                tr(
                    self.lang,
                    "承認依頼を待っています (Ctrl-C で終了)…",
                    "Waiting for approval requests (Ctrl-C to stop)…"
                )
            )?;
        }
        loop {
            let device_time = self.now_unix();
            let signature = device.sign(&listing_message(id, device_time));
            let listed = client
                .approvals(id, device_time, &signature, preset.wait)
                .await?;
            handled.retain(|seen| listed.approvals.iter().any(|a| &a.approval_id == seen));
            let fresh: Vec<Approval> = listed
                .approvals
                .into_iter()
                .filter(|a| !handled.contains(&a.approval_id))
                .collect();
            if fresh.is_empty() {
                if preset.once {
                    writeln!(
                        console.err,
                        "{}",
                        tr(
                            self.lang,
                            "承認待ちの取引はありません",
                            "no approval request is waiting"
                        )
                    )?;
                    return Ok(ExitCode::FAILURE);
                }
                // A server that answers at once (no long poll) is not hammered.
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            for request in fresh {
                handled.insert(request.approval_id.clone());
                let outcome = self
                    .answer_one(console, &client, id, &device, &request, &preset)
                    .await;
                match outcome {
                    Ok(()) if preset.once => return Ok(ExitCode::SUCCESS),
                    Ok(()) => {}
                    Err(err) if preset.once => return Err(err),
                    // Looping: one approval's failure is shown and the next one is awaited.
                    Err(
                        err @ (TokenError::Client(ClientError::Problem { .. })
                        | TokenError::Refused(_)),
                    ) => {
                        writeln!(console.err, "{err}")?;
                    }
                    Err(err) => return Err(err),
                }
            }
        }
    }

    /// Shows one approval, gets the decision (and number), signs and sends it.
    async fn answer_one(
        &self,
        console: &mut Console<'_>,
        client: &Client,
        credential_id: &str,
        device: &DeviceKeyPair,
        request: &Approval,
        preset: &Preset,
    ) -> Result<(), TokenError> {
        writeln!(
            console.out,
            "{}",
            approval::render(request, self.lang, self.now_unix())
        )?;
        // Checked before asking: the customer is never asked to approve what cannot be signed.
        if let Err(refusal) = approval::vouched_hash(request) {
            writeln!(
                console.out,
                "{}",
                tr(
                    self.lang,
                    "警告: 表示した取引内容がサーバーの取引ハッシュと一致しません。署名しません (承認も拒否もしていません)。",
                    "WARNING: the transaction shown does not match the server's transaction hash. Not signing (neither approved nor denied)."
                )
            )?;
            return Err(refusal.into());
        }
        let decision = match preset.answer {
            Some(decision) => decision,
            None => self.ask_decision(console)?,
        };
        let number = match (decision, request.number_challenge) {
            (PushDecision::Approve, true) => Some(match &preset.number {
                Some(n) => n.clone(),
                None => self.ask_number(console)?,
            }),
            _ => None,
        };
        let answer = approval::sign_answer(
            request,
            credential_id,
            device,
            decision,
            number.as_deref(),
            self.now_unix(),
        )?;
        let result = client.answer(&request.approval_id, &answer).await?;
        let status = match (self.lang, result.status.as_str()) {
            (Lang::Ja, "approved") => "承認しました (approved)".to_owned(),
            (Lang::Ja, "denied") => "拒否しました (denied)".to_owned(),
            (_, other) => approval::clean(other),
        };
        writeln!(console.out, "{}: {status}", tr(self.lang, "結果", "Result"))?;
        Ok(())
    }

    fn ask_decision(&self, console: &mut Console<'_>) -> Result<PushDecision, TokenError> {
        for _ in 0..3 {
            let Some(line) =
                console.ask(&tr(self.lang, "承認しますか？ [y/n] ", "Approve? [y/n] "))?
            else {
                break;
            };
            match line.trim().to_lowercase().as_str() {
                "y" | "yes" | "はい" | "承認" | "approve" => return Ok(PushDecision::Approve),
                "n" | "no" | "いいえ" | "拒否" | "deny" => return Ok(PushDecision::Deny),
                _ => {}
            }
        }
        Err(TokenError::Usage(tr(
            self.lang,
            "回答がありません: 承認も拒否もしていません",
            "no answer: neither approved nor denied",
        )))
    }

    fn ask_number(&self, console: &mut Console<'_>) -> Result<String, TokenError> {
        for _ in 0..3 {
            let Some(line) = console.ask(&tr(
                self.lang,
                "銀行の画面に表示されている番号: ",
                "The number shown on the bank's screen: ",
            ))?
            else {
                break;
            };
            let number: String = line.trim().chars().map(mamori_otp::fold_width).collect();
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(number);
            }
        }
        Err(TokenError::Usage(tr(
            self.lang,
            "番号が入力されていません: 承認していません",
            "no number given: not approved",
        )))
    }
}

fn new_device_key() -> Result<DeviceKeyPair, TokenError> {
    DeviceKeyPair::generate().map_err(|e| TokenError::Usage(format!("device key: {e}")))
}

/// The credential a command acts on: the one named, or the only one.
pub fn select<'f>(
    token_file: &'f TokenFile,
    path: &Path,
    wanted: Option<&str>,
) -> Result<&'f StoredCredential, TokenError> {
    let held = || {
        token_file
            .credentials
            .iter()
            .map(|c| format!("{} ({})", c.credential_id, c.server))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (wanted, token_file.credentials.as_slice()) {
        (_, []) => Err(TokenError::Usage(format!(
            "{} holds no credential yet: run `mamori token provision --server URL`",
            path.display()
        ))),
        (None, [only]) => Ok(only),
        (None, several) => Err(TokenError::Usage(format!(
            "{} holds {} credentials; choose one with --credential: {}",
            path.display(),
            several.len(),
            held()
        ))),
        (Some(wanted), all) => {
            // What the customer typed, folded as banks fold it (full width, lower case).
            let wanted = CredentialId::parse(wanted)
                .map(|id| id.as_str().to_owned())
                .unwrap_or_else(|_| wanted.trim().to_owned());
            all.iter()
                .find(|c| c.credential_id == wanted)
                .ok_or_else(|| {
                    TokenError::Usage(format!(
                        "no credential {wanted} in {}; it holds: {}",
                        path.display(),
                        held()
                    ))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn credential(id: &str) -> StoredCredential {
        StoredCredential {
            credential_id: id.into(),
            server: "http://127.0.0.1:8080".into(),
            label: None,
            service_id: None,
            secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
            algorithm: "SHA1".into(),
            digits: 6,
            period: 30,
            device_key_seed: None,
            created_at: DateTime::from_timestamp(1_795_339_800, 0).unwrap(),
        }
    }

    #[test]
    fn one_credential_needs_no_choice_several_do() {
        let path = Path::new("/t/token.json");
        let mut file = TokenFile::default();
        let empty = select(&file, path, None).unwrap_err().to_string();
        assert!(empty.contains("mamori token provision"), "{empty}");

        file.credentials.push(credential("MAMO00000018"));
        assert_eq!(
            select(&file, path, None).unwrap().credential_id,
            "MAMO00000018"
        );
        file.credentials.push(credential("MAMO00000026"));
        let ambiguous = select(&file, path, None).unwrap_err().to_string();
        assert!(
            ambiguous.contains("--credential")
                && ambiguous.contains("MAMO00000018")
                && ambiguous.contains("MAMO00000026"),
            "{ambiguous}"
        );
        assert_eq!(
            select(&file, path, Some("MAMO00000026"))
                .unwrap()
                .credential_id,
            "MAMO00000026"
        );
        let unknown = select(&file, path, Some("MAMO99999999"))
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("no credential MAMO99999999"), "{unknown}");
    }

    #[test]
    fn the_language_follows_the_locale() {
        assert_eq!(lang_from_locale(None), Lang::Ja);
        assert_eq!(lang_from_locale(Some("ja_JP.UTF-8")), Lang::Ja);
        assert_eq!(lang_from_locale(Some("C.UTF-8")), Lang::En);
        assert_eq!(lang_from_locale(Some("en_US.UTF-8")), Lang::En);
    }
}
