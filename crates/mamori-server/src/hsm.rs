//! The PKCS#11 key provider (`--key-provider pkcs11`): envelope encryption, as an HSM
//! auto-unseal does it. An AES-256 key-encryption key (KEK) is made inside the HSM — sensitive,
//! not extractable, found by its label — and the master keys exist at rest only wrapped by it
//! (AES-256-GCM computed by the HSM: `C_Encrypt` / `C_Decrypt` with `CKM_AES_GCM`) in a 0600
//! file. At start the HSM unwraps them once, then the session is closed and the module
//! finalised: a running node holds its master keys in memory as with the file provider, and
//! needs the HSM again only at its next start.
//!
//! A copy of the wrapped file opens nothing without the HSM, the token's PIN and the KEK; the
//! key ids in it are the public ids stored beside every sealed record.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use data_encoding::BASE64;
use mamori_crypto::MasterKey;
use mamori_store::Database;
use mamori_store::sealed;
use zeroize::Zeroizing;

use crate::key_uses::{describe, key_ids};

/// The variable holding the token's user PIN. Never a flag: a command line is visible to every
/// user of the host.
pub const PIN_VAR: &str = "MAMORI_PKCS11_PIN";

/// GCM's nonce and tag, in bytes.
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The first line of a wrapped-key file that is not a comment names the KEK.
const KEK_LINE: &str = "kek ";

/// Where the HSM and the wrapped master keys are.
#[derive(Debug, clap::Args)]
pub struct Pkcs11Args {
    /// With `--key-provider pkcs11`: the HSM vendor's PKCS#11 library, e.g.
    /// /usr/lib/softhsm/libsofthsm2.so for SoftHSM2. Required: there is no default.
    #[arg(long, env = "MAMORI_PKCS11_MODULE", value_name = "FILE")]
    pub pkcs11_module: Option<PathBuf>,
    /// With `--key-provider pkcs11`: the label of the token (HSM partition) holding the
    /// key-encryption key. Its user PIN is read from MAMORI_PKCS11_PIN (there is no flag: a
    /// command line is visible to every user of the host).
    #[arg(long, env = "MAMORI_PKCS11_TOKEN_LABEL", value_name = "LABEL")]
    pub pkcs11_token_label: Option<String>,
    /// With `--key-provider pkcs11`: the label of the AES-256 key-encryption key in the token
    /// (made by `mamori keys hsm-init`).
    #[arg(
        long,
        env = "MAMORI_PKCS11_KEY_LABEL",
        default_value = "mamori-kek",
        value_name = "LABEL"
    )]
    pub pkcs11_key_label: String,
    /// With `--key-provider pkcs11`: the file holding the master keys wrapped by the HSM's key
    /// (mode 0600; made at first start on an empty database, or by `mamori keys wrap`).
    #[arg(
        long,
        env = "MAMORI_WRAPPED_KEY_FILE",
        default_value = "mamori.key.wrapped",
        value_name = "FILE"
    )]
    pub wrapped_key_file: PathBuf,
}

impl Pkcs11Args {
    /// The wrapped-key file as an absolute path, for messages.
    pub fn file_display(&self) -> String {
        std::path::absolute(&self.wrapped_key_file)
            .unwrap_or_else(|_| self.wrapped_key_file.clone())
            .display()
            .to_string()
    }
}

/// One master key wrapped by the KEK: its public id and `IV || ciphertext || tag`.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The master key's id (`k` + 8 hex digits), as stored beside the records it sealed.
    pub id: String,
    /// `IV || ciphertext || tag`.
    pub blob: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey({}, {} bytes)", self.id, self.blob.len())
    }
}

/// The wrapped-key file: the KEK's label, then the master keys, the current one first (it
/// seals), older ones after it (they only open what they sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedFile {
    /// The label of the KEK that wrapped every key in the file.
    pub kek_label: String,
    /// The current key first.
    pub keys: Vec<WrappedKey>,
}

impl WrappedFile {
    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut text = String::from(
            "# Mamori master keys, each wrapped (AES-256-GCM, inside the HSM) by the HSM key named\n\
             # on the `kek` line. Without that key in its HSM these lines open nothing. The first\n\
             # key seals new records; the others only open records sealed before a rotation.\n\
             # One line per key: <key id> <base64 of IV || ciphertext || tag>.\n",
        );
        text.push_str(&format!("{KEK_LINE}{}\n", self.kek_label));
        for key in &self.keys {
            text.push_str(&format!("{} {}\n", key.id, BASE64.encode(&key.blob)));
        }
        text
    }

    /// Reads the file's text; every fault names its line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut kek_label = None;
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fault = |what: &str| format!("line {}: {what}", n + 1);
            if kek_label.is_none() {
                let label = line
                    .strip_prefix(KEK_LINE)
                    .ok_or_else(|| fault("expected `kek <label>` first"))?;
                kek_label = Some(label.trim().to_owned());
                continue;
            }
            let (id, blob) = line
                .split_once(' ')
                .ok_or_else(|| fault("expected `<key id> <base64>`"))?;
            let blob = BASE64
                .decode(blob.trim().as_bytes())
                .map_err(|_| fault("the wrapped key is not base64"))?;
            if blob.len() != IV_LEN + 32 + TAG_LEN {
                return Err(fault("a wrapped key is 60 bytes (IV, key, tag)"));
            }
            keys.push(WrappedKey {
                id: id.to_owned(),
                blob,
            });
        }
        let kek_label = kek_label.ok_or("no `kek <label>` line")?;
        if keys.is_empty() {
            return Err("no wrapped key".to_owned());
        }
        Ok(Self { kek_label, keys })
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("the wrapped key file {}: {e}", path.display()))?;
        Self::parse(&text)
            .map_err(|e| anyhow::anyhow!("the wrapped key file {}: {e}", path.display()))
    }

    /// Writes a new file at `path` (mode 0600); refuses to replace one.
    pub fn create(&self, path: &Path) -> anyhow::Result<()> {
        mamori_crypto::write_private_file(path, &self.to_text())
            .map_err(|e| anyhow::anyhow!("the wrapped key file {}: {e}", path.display()))
    }

    /// Replaces the file at `path` at once: written beside it (0600), synced, renamed over it,
    /// so a crash leaves the old file or the new one, never half of one.
    pub fn replace(&self, path: &Path) -> anyhow::Result<()> {
        let mut beside = path.as_os_str().to_owned();
        beside.push(".new");
        let beside = PathBuf::from(beside);
        let err =
            |e: std::io::Error| anyhow::anyhow!("the wrapped key file {}: {e}", path.display());
        match std::fs::remove_file(&beside) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
            _ => {}
        }
        mamori_crypto::write_private_file(&beside, &self.to_text()).map_err(err)?;
        std::fs::rename(&beside, path).map_err(err)
    }
}

/// The associated data of a wrapped key: its id, so a line cannot be given another key's id.
fn aad(key_id: &str) -> Vec<u8> {
    format!("mamori/wrapped-master-key/v1:{key_id}").into_bytes()
}

/// A loaded and initialised PKCS#11 module; dropping it finalises the module (after the
/// sessions, which are dropped first), so the process keeps no handle on the HSM.
struct Module(Pkcs11);

impl Drop for Module {
    fn drop(&mut self) {
        let _ = self.0.clone().finalize();
    }
}

/// A logged-in session on a token. Dropping it closes the session (which logs out) and then
/// finalises the module: fields drop in this order.
struct Login {
    session: Session,
    token: String,
    _module: Module,
}

/// A logged-in session on the token, and the KEK in it.
pub struct Hsm {
    login: Login,
    kek: ObjectHandle,
    kek_label: String,
}

impl fmt::Debug for Hsm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hsm(kek={}, token={})", self.kek_label, self.login.token)
    }
}

impl Hsm {
    /// Logs in to the token and finds the KEK; refuses, naming what is wrong, when the module,
    /// the token, the PIN or the key is not right.
    pub fn open(args: &Pkcs11Args) -> anyhow::Result<Self> {
        let login = login(args, false)?;
        let token = &login.token;
        let kek = match find_keks(&login.session, &args.pkcs11_key_label)?.as_slice() {
            [kek] => *kek,
            [] => anyhow::bail!(
                "the HSM token {token} holds no AES key labelled {label} (--pkcs11-key-label / \
                 MAMORI_PKCS11_KEY_LABEL). Nothing was changed. Make it once with \
                 `mamori keys hsm-init`, or name the key-encryption key that wrapped {file}.",
                label = args.pkcs11_key_label,
                file = args.file_display(),
            ),
            many => anyhow::bail!(
                "the HSM token {token} holds {} AES keys labelled {}: give the key-encryption \
                 key a label of its own. Nothing was changed.",
                many.len(),
                args.pkcs11_key_label
            ),
        };
        warn_unless_locked_in(&login.session, kek, &args.pkcs11_key_label);
        Ok(Self {
            login,
            kek,
            kek_label: args.pkcs11_key_label.clone(),
        })
    }

    /// The token and key, for the operator's messages.
    pub fn describe(&self) -> String {
        format!(
            "the HSM key {} of token {}",
            self.kek_label, self.login.token
        )
    }

    /// Wraps `key` with the KEK: a fresh IV from the HSM's generator, the key's id as
    /// associated data.
    pub fn wrap(&self, key: &MasterKey) -> anyhow::Result<WrappedKey> {
        let id = key.id();
        let aad = aad(&id);
        let mut iv = [0_u8; IV_LEN];
        self.login
            .session
            .generate_random_slice(&mut iv)
            .map_err(|e| anyhow::anyhow!("the HSM's random generator: {e}"))?;
        let mut params_iv = iv;
        let mechanism = Mechanism::AesGcm(GcmParams::new(
            &mut params_iv,
            &aad,
            (TAG_LEN as u64 * 8).into(),
        )?);
        let sealed = self
            .login
            .session
            .encrypt(&mechanism, self.kek, key.as_bytes())
            .map_err(|e| anyhow::anyhow!("{} did not wrap the master key: {e}", self.describe()))?;
        let mut blob = iv.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(WrappedKey { id, blob })
    }

    /// Unwraps one key; refuses when the KEK does not open it (another KEK wrapped it, or the
    /// line was altered) or it is not the key its id names.
    pub fn unwrap(&self, wrapped: &WrappedKey, file: &str) -> anyhow::Result<MasterKey> {
        let refused = || {
            anyhow::anyhow!(
                "{} does not unwrap master key {} in {file}: the file was wrapped by another \
                 key-encryption key (another token, or a key made again under the same label), \
                 or it was altered. Nothing was changed.",
                self.describe(),
                wrapped.id
            )
        };
        if wrapped.blob.len() != IV_LEN + 32 + TAG_LEN {
            return Err(refused());
        }
        let (iv, sealed) = wrapped.blob.split_at(IV_LEN);
        let mut iv: [u8; IV_LEN] = iv.try_into().map_err(|_| refused())?;
        let aad = aad(&wrapped.id);
        let mechanism =
            Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, (TAG_LEN as u64 * 8).into())?);
        let plain = Zeroizing::new(
            self.login
                .session
                .decrypt(&mechanism, self.kek, sealed)
                .map_err(|_| refused())?,
        );
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| refused())?;
        let key = MasterKey::from_bytes(bytes);
        if key.id() != wrapped.id {
            return Err(refused());
        }
        Ok(key)
    }
}

/// Logs a warning when the KEK could leave the HSM: a key made with `mamori keys hsm-init`
/// cannot, one imported by hand might.
fn warn_unless_locked_in(session: &Session, kek: ObjectHandle, label: &str) {
    let attributes = session
        .get_attributes(
            kek,
            &[
                cryptoki::object::AttributeType::Extractable,
                cryptoki::object::AttributeType::Sensitive,
            ],
        )
        .unwrap_or_default();
    let extractable = attributes
        .iter()
        .any(|a| matches!(a, Attribute::Extractable(true)));
    let sensitive = attributes
        .iter()
        .any(|a| matches!(a, Attribute::Sensitive(true)));
    if extractable || !sensitive {
        tracing::warn!(
            kek = %label,
            extractable,
            sensitive,
            "the HSM's key-encryption key can leave the HSM: make one with `mamori keys hsm-init` (sensitive, not extractable) and wrap the master keys with it"
        );
    }
}

/// The module, token and PIN from the settings, each required.
fn settings(args: &Pkcs11Args) -> anyhow::Result<(&Path, &str, AuthPin)> {
    let module = args.pkcs11_module.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "--key-provider pkcs11 needs --pkcs11-module FILE (MAMORI_PKCS11_MODULE): the HSM \
             vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so for SoftHSM2"
        )
    })?;
    let token = args.pkcs11_token_label.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "--key-provider pkcs11 needs --pkcs11-token-label LABEL (MAMORI_PKCS11_TOKEN_LABEL): \
             the token holding the key-encryption key"
        )
    })?;
    let pin = std::env::var(PIN_VAR)
        .ok()
        .filter(|pin| !pin.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!("--key-provider pkcs11 needs the token's user PIN in {PIN_VAR}")
        })?;
    Ok((module, token, AuthPin::from(pin)))
}

/// Loads the module, finds the token by label and logs in as its user.
fn login(args: &Pkcs11Args, read_write: bool) -> anyhow::Result<Login> {
    let (path, token, pin) = settings(args)?;
    let module_name = path.display();
    let context = Pkcs11::new(path)
        .map_err(|e| anyhow::anyhow!("cannot load the PKCS#11 module {module_name}: {e}"))?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => anyhow::bail!("the PKCS#11 module {module_name}: {e}"),
    }
    let module = Module(context.clone());
    let mut labels = Vec::new();
    let mut slot = None;
    for candidate in context
        .get_slots_with_token()
        .map_err(|e| anyhow::anyhow!("the PKCS#11 module {module_name}: {e}"))?
    {
        let Ok(info) = context.get_token_info(candidate) else {
            continue;
        };
        if !info.token_initialized() {
            continue;
        }
        if info.label() == token {
            slot = Some(candidate);
        }
        labels.push(info.label().to_owned());
    }
    let slot = slot.ok_or_else(|| {
        anyhow::anyhow!(
            "the PKCS#11 module {module_name} has no token labelled {token} \
             (--pkcs11-token-label / MAMORI_PKCS11_TOKEN_LABEL); its tokens: {}",
            if labels.is_empty() {
                "none".to_owned()
            } else {
                labels.join(", ")
            }
        )
    })?;
    let session = if read_write {
        context.open_rw_session(slot)
    } else {
        context.open_ro_session(slot)
    }
    .map_err(|e| anyhow::anyhow!("cannot open a session on HSM token {token}: {e}"))?;
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) => {}
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => anyhow::bail!(
            "the HSM token {token} refused the user PIN in {PIN_VAR} (PIN incorrect). Nothing \
             was changed. Most HSMs lock the PIN after a few wrong tries: check the PIN before \
             starting again."
        ),
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => anyhow::bail!(
            "the user PIN of HSM token {token} is locked: the token's security officer must \
             unlock it. Nothing was changed."
        ),
        Err(e) => anyhow::bail!("cannot log in to HSM token {token}: {e}"),
    }
    Ok(Login {
        session,
        token: token.to_owned(),
        _module: module,
    })
}

/// The token's AES secret keys labelled `label`.
fn find_keks(session: &Session, label: &str) -> anyhow::Result<Vec<ObjectHandle>> {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| anyhow::anyhow!("cannot search the HSM token for key {label}: {e}"))
}

/// `mamori keys hsm-init`: makes the KEK in the token — AES-256, generated inside the HSM, kept
/// on the token, sensitive and not extractable, usable only to encrypt and decrypt. Refuses
/// when a key with that label is there already. Returns who holds it, for the operator.
pub fn make_kek(args: &Pkcs11Args) -> anyhow::Result<String> {
    let login = login(args, true)?;
    let (session, token) = (&login.session, &login.token);
    let label = &args.pkcs11_key_label;
    if !find_keks(session, label)?.is_empty() {
        anyhow::bail!(
            "HSM token {token} already holds an AES key labelled {label}: nothing was made. \
             It may wrap master keys already; to make another, give it another \
             --pkcs11-key-label."
        );
    }
    session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32_u64.into()),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
                Attribute::Sign(false),
                Attribute::Verify(false),
            ],
        )
        .map_err(|e| anyhow::anyhow!("HSM token {token} did not make the key {label}: {e}"))?;
    Ok(format!("the HSM key {label} of token {token}"))
}

/// Refuses plaintext keys in the environment beside the HSM: a node whose key is in its
/// environment does not keep it in the HSM, whatever its settings say.
fn refuse_plaintext_keys() -> anyhow::Result<()> {
    for name in ["MAMORI_MASTER_KEY", "MAMORI_OLD_MASTER_KEYS"] {
        if std::env::var(name).is_ok_and(|v| !v.trim().is_empty()) {
            anyhow::bail!(
                "{name} is set, but --key-provider pkcs11 keeps every master key wrapped by the \
                 HSM (older ones too, in the wrapped key file): unset it. To move keys from the \
                 file provider into the HSM, run `mamori keys wrap` once."
            );
        }
    }
    Ok(())
}

/// The master keys from the HSM-wrapped file: the current one and older ones.
///
/// A missing file is made (a new key, wrapped) only while the database holds no sealed record,
/// and only after the HSM has let us in and found its key, so a wrong PIN or label makes
/// nothing. Otherwise the start is refused, naming the key ids the records need.
pub async fn master_keys(
    args: &Pkcs11Args,
    db: &Database,
) -> anyhow::Result<(MasterKey, Vec<MasterKey>)> {
    refuse_plaintext_keys()?;
    let file = args.file_display();
    let started = Instant::now();
    if args.wrapped_key_file.exists() {
        let wrapped = WrappedFile::read(&args.wrapped_key_file)?;
        if wrapped.kek_label != args.pkcs11_key_label {
            anyhow::bail!(
                "{file} was wrapped by the HSM key {}, not by {} (--pkcs11-key-label / \
                 MAMORI_PKCS11_KEY_LABEL). Nothing was changed.",
                wrapped.kek_label,
                args.pkcs11_key_label
            );
        }
        let hsm = Hsm::open(args)?;
        let mut keys = wrapped
            .keys
            .iter()
            .map(|w| hsm.unwrap(w, &file))
            .collect::<anyhow::Result<Vec<_>>>()?;
        tracing::info!(
            kek = %hsm.describe(),
            keys = keys.len(),
            elapsed_ms = %format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
            "master keys unwrapped by the HSM"
        );
        let current = keys.remove(0);
        return Ok((current, keys));
    }
    let uses = sealed::key_uses(db).await?;
    if !uses.is_empty() {
        anyhow::bail!(
            "the wrapped key file {file} does not exist, but the database holds records sealed \
             with master key {ids}:\n{list}\n\
             A new key would seal secrets that no other node can open, so none was created and \
             nothing was changed. Copy the wrapped key file these records' keys were wrapped in \
             to {file}, point --wrapped-key-file (MAMORI_WRAPPED_KEY_FILE) at it, or, coming \
             from the file provider, run `mamori keys wrap` with the key file.",
            ids = key_ids(&uses).join(", "),
            list = describe(uses.iter().map(|u| (u, ""))),
        );
    }
    let hsm = Hsm::open(args)?;
    let key = MasterKey::generate()?;
    let wrapped = hsm.wrap(&key)?;
    hsm.unwrap(&wrapped, &file)?;
    WrappedFile {
        kek_label: args.pkcs11_key_label.clone(),
        keys: vec![wrapped],
    }
    .create(&args.wrapped_key_file)?;
    tracing::warn!(
        file = %file,
        key.id = %key.id(),
        kek = %hsm.describe(),
        "created a new master key, wrapped by the HSM (mode 0600); back up the file and the HSM key: without both no token secret can be read"
    );
    Ok((key, Vec::new()))
}

/// `mamori keys wrap`: the file provider's keys (the current one and MAMORI_OLD_MASTER_KEYS)
/// wrapped into a new wrapped-key file. Returns the key ids, the current one first.
pub fn wrap_into_file(
    args: &Pkcs11Args,
    current: &MasterKey,
    older: &[MasterKey],
) -> anyhow::Result<(Vec<String>, String)> {
    if args.wrapped_key_file.exists() {
        anyhow::bail!(
            "{} exists already: nothing was wrapped. Move it away first if it is to be replaced.",
            args.file_display()
        );
    }
    let hsm = Hsm::open(args)?;
    let mut keys = Vec::new();
    for key in std::iter::once(current).chain(older) {
        let wrapped = hsm.wrap(key)?;
        hsm.unwrap(&wrapped, &args.file_display())?;
        keys.push(wrapped);
    }
    let ids = keys.iter().map(|k| k.id.clone()).collect();
    WrappedFile {
        kek_label: args.pkcs11_key_label.clone(),
        keys,
    }
    .create(&args.wrapped_key_file)?;
    Ok((ids, hsm.describe()))
}

/// `mamori keys rotate-master`: a new master key, wrapped, first in the file; every key there
/// before stays (wrapped as it was) to open what it sealed. Returns the new key's id.
pub fn rotate_in_file(args: &Pkcs11Args) -> anyhow::Result<(String, Vec<String>)> {
    let mut wrapped = WrappedFile::read(&args.wrapped_key_file)?;
    let hsm = Hsm::open(args)?;
    let key = MasterKey::generate()?;
    let fresh = hsm.wrap(&key)?;
    hsm.unwrap(&fresh, &args.file_display())?;
    let older = wrapped.keys.iter().map(|k| k.id.clone()).collect();
    wrapped.keys.insert(0, fresh);
    wrapped.replace(&args.wrapped_key_file)?;
    Ok((key.id(), older))
}

/// `mamori keys drop-older`: the file with its current key alone. Returns the dropped ids.
pub fn drop_older_in_file(args: &Pkcs11Args) -> anyhow::Result<Vec<String>> {
    let mut wrapped = WrappedFile::read(&args.wrapped_key_file)?;
    let dropped: Vec<String> = wrapped.keys.drain(1..).map(|k| k.id).collect();
    if !dropped.is_empty() {
        wrapped.replace(&args.wrapped_key_file)?;
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapped_file_reads_back_what_was_written() {
        let file = WrappedFile {
            kek_label: "mamori kek".to_owned(),
            keys: vec![
                WrappedKey {
                    id: "k01234567".to_owned(),
                    blob: vec![1; 60],
                },
                WrappedKey {
                    id: "k89abcdef".to_owned(),
                    blob: vec![2; 60],
                },
            ],
        };
        assert_eq!(WrappedFile::parse(&file.to_text()), Ok(file));
    }

    #[test]
    fn a_damaged_wrapped_file_names_its_line() {
        assert_eq!(
            WrappedFile::parse("# c\nk01234567 AAAA\n"),
            Err("line 2: expected `kek <label>` first".to_owned())
        );
        assert_eq!(
            WrappedFile::parse("kek a\nk01234567 AAAA\n"),
            Err("line 2: a wrapped key is 60 bytes (IV, key, tag)".to_owned())
        );
        assert_eq!(
            WrappedFile::parse("kek a\n"),
            Err("no wrapped key".to_owned())
        );
    }
}
