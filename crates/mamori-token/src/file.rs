//! The token's own file: every credential this token holds, with its secret and device key.
//!
//! It is the phone's secure storage, so it is treated like an SSH private key: created with
//! mode 0600 in a 0700 directory, written atomically (a temporary file in the same directory,
//! then a rename, so a crash never leaves half a file), and refused when other users can read
//! it. Every change is a read-modify-write under an exclusive lock on `<file>.lock` beside it
//! ([`update`]), so two runs at once (two banks' tokens set up in two terminals) never lose
//! each other's credential. Readers need no lock: a rename is atomic.
//!
//! ```json
//! {
//!   "version": 1,
//!   "credentials": [{
//!     "credential_id": "MAMO12345678", "server": "https://mamori.example",
//!     "label": "phone", "service_id": null,
//!     "secret": "BASE32…", "algorithm": "SHA1", "digits": 6, "period": 30,
//!     "device_key_seed": "base64url…", "created_at": "2026-11-22T09:30:00Z"
//!   }]
//! }
//! ```

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mamori_crypto::DeviceKeyPair;
use mamori_otp::{Digits, OtpParams, Period, Secret};
use serde::{Deserialize, Serialize};

/// The file format this code writes and reads.
pub const FILE_VERSION: u32 = 1;

/// Why the token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// No file yet: the customer has no token.
    #[error("no token yet ({path} does not exist): run `mamori token provision --server URL`")]
    Missing {
        /// The file looked for.
        path: PathBuf,
    },
    /// The file is not a token file (bad JSON, or a value out of range).
    #[error("{path} is not a valid token file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (never a secret).
        reason: String,
    },
    /// Other users may read the file, so its secrets cannot be trusted to be ours alone.
    #[error(
        "{path} can be read by other users (mode {mode:04o}); it holds your token's secrets. \
         Run `chmod 600 {path}` and try again"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    /// [`FILE_VERSION`].
    pub version: u32,
    /// The credentials, oldest first.
    pub credentials: Vec<StoredCredential>,
}

impl Default for TokenFile {
    fn default() -> Self {
        Self {
            version: FILE_VERSION,
            credentials: Vec::new(),
        }
    }
}

/// One credential the token holds.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoredCredential {
    /// クレデンシャルID.
    pub credential_id: String,
    /// The Mamori server it belongs to, without a trailing slash.
    pub server: String,
    /// A name the customer gave it (`provision --label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The bank that issued it (self-issued tokens, `activate --service-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// The shared secret, base32.
    pub secret: String,
    /// HMAC algorithm: SHA1, SHA256 or SHA512.
    pub algorithm: String,
    /// Digits per code.
    pub digits: u8,
    /// Seconds per code.
    pub period: u32,
    /// The Ed25519 device key's 32-byte seed, base64url; signs push answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key_seed: Option<String>,
    /// When the token got it.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredential")
            .field("credential_id", &self.credential_id)
            .field("server", &self.server)
            .field("label", &self.label)
            .field("service_id", &self.service_id)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("device_key", &self.device_key_seed.is_some())
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl StoredCredential {
    /// The secret and parameters that make its codes.
    pub fn otp(&self) -> Result<(Secret, OtpParams), String> {
        let secret = Secret::from_base32(&self.secret).map_err(|e| format!("secret: {e}"))?;
        let params = OtpParams {
            algorithm: self
                .algorithm
                .parse()
                .map_err(|e| format!("algorithm: {e}"))?,
            digits: Digits::new(self.digits).map_err(|e| format!("digits: {e}"))?,
            period: Period::new(self.period).map_err(|e| format!("period: {e}"))?,
        };
        Ok((secret, params))
    }

    /// The device key, when the credential has one.
    pub fn device_key(&self) -> Result<Option<DeviceKeyPair>, String> {
        self.device_key_seed
            .as_deref()
            .map(|seed| {
                DeviceKeyPair::from_seed_base64(seed)
                    .map_err(|_| "device_key_seed: not a 32-byte base64url seed".to_owned())
            })
            .transpose()
    }

    /// What `list` shows after the server: the label, or the issuing bank.
    pub fn description(&self) -> String {
        match (&self.label, &self.service_id) {
            (Some(label), Some(bank)) => format!("{label} ({bank})"),
            (Some(label), None) => label.clone(),
            (None, Some(bank)) => bank.clone(),
            (None, None) => String::new(),
        }
    }
}

/// Where the file lives when neither `--file` nor `MAMORI_TOKEN_FILE` says:
/// `$XDG_CONFIG_HOME/mamori/token.json`, else `$HOME/.config/mamori/token.json`. Empty
/// variables count as unset (XDG Base Directory spec).
pub fn default_path(xdg_config_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    let is_set = |p: &&Path| !p.as_os_str().is_empty();
    xdg_config_home
        .filter(is_set)
        .map(Path::to_path_buf)
        .or_else(|| home.filter(is_set).map(|home| home.join(".config")))
        .map(|config| config.join("mamori").join("token.json"))
}

/// Reads and checks the file.
pub fn load(path: &Path) -> Result<TokenFile, FileError> {
    let io = |source| FileError::Io {
        path: path.to_owned(),
        source,
    };
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FileError::Missing {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io(e)),
    };
    check_private(path)?;
    let corrupt = |reason: String| FileError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let file: TokenFile = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
    if file.version != FILE_VERSION {
        return Err(corrupt(format!(
            "version {} (this mamori reads version {FILE_VERSION})",
            file.version
        )));
    }
    for credential in &file.credentials {
        credential
            .otp()
            .and_then(|_| credential.device_key().map(|_| ()))
            .map_err(|reason| corrupt(format!("{}: {reason}", credential.credential_id)))?;
    }
    Ok(file)
}

/// Reads the file, or an empty one when there is none yet (provisioning the first token).
pub fn load_or_default(path: &Path) -> Result<TokenFile, FileError> {
    match load(path) {
        Err(FileError::Missing { .. }) => Ok(TokenFile::default()),
        other => other,
    }
}

/// Reads the file (or an empty one), lets `change` edit it and writes it back, all under an
/// exclusive lock held until the new file is in place. Returns what was written.
pub fn update(path: &Path, change: impl FnOnce(&mut TokenFile)) -> Result<TokenFile, FileError> {
    let _lock = lock(path)?;
    let mut file = load_or_default(path)?;
    change(&mut file);
    save(path, &file)?;
    Ok(file)
}

/// Blocks until this process holds the exclusive lock of the file; released when the returned
/// handle is dropped (or the process ends). The lock is a separate file because the token
/// file itself is replaced by each write, and a lock on a replaced file guards nothing.
fn lock(path: &Path) -> Result<std::fs::File, FileError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock_path = path.with_file_name(name);
    let io = |source| FileError::Io {
        path: lock_path.clone(),
        source,
    };
    create_private_dir(&parent_dir(path)).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&lock_path).map_err(io)?;
    file.lock().map_err(io)?;
    Ok(file)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes the file atomically with mode 0600, creating its directory with mode 0700.
pub fn save(path: &Path, file: &TokenFile) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = parent_dir(path);
    create_private_dir(&dir).map_err(io)?;
    let mut json = serde_json::to_vec_pretty(file).map_err(|e| io(std::io::Error::other(e)))?;
    json.push(b'\n');
    // tempfile creates the file with mode 0600 before anything is written into it.
    let mut temp = tempfile::Builder::new()
        .prefix(".token.json.")
        .tempfile_in(&dir)
        .map_err(io)?;
    temp.write_all(&json).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), FileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| FileError::Io {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(FileError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), FileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(id: &str) -> StoredCredential {
        StoredCredential {
            credential_id: id.into(),
            server: "http://127.0.0.1:8080".into(),
            label: Some("phone".into()),
            service_id: None,
            secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
            algorithm: "SHA1".into(),
            digits: 6,
            period: 30,
            device_key_seed: Some(DeviceKeyPair::generate().unwrap().seed_base64()),
            created_at: DateTime::from_timestamp(1_795_339_800, 0).unwrap(),
        }
    }

    #[test]
    fn the_default_path_follows_xdg_then_home() {
        assert_eq!(
            default_path(Some(Path::new("/x")), Some(Path::new("/home/a"))),
            Some(PathBuf::from("/x/mamori/token.json"))
        );
        assert_eq!(
            default_path(Some(Path::new("")), Some(Path::new("/home/a"))),
            Some(PathBuf::from("/home/a/.config/mamori/token.json"))
        );
        assert_eq!(default_path(None, None), None);
    }

    #[test]
    fn a_saved_file_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join("token.json");
        let file = TokenFile {
            version: FILE_VERSION,
            credentials: vec![sample("MAMO00000018")],
        };
        save(&path, &file).unwrap();
        assert_eq!(load(&path).unwrap(), file);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["token.json"]);
    }

    #[test]
    fn updates_at_once_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone").join("token.json");
        let ids: Vec<String> = (1..=8).map(|i| format!("MAMO0000000{i}")).collect();
        std::thread::scope(|scope| {
            for id in &ids {
                let path = &path;
                scope.spawn(move || {
                    update(path, |file| {
                        // Widen the window between reading and writing.
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        file.credentials.push(sample(id));
                    })
                    .unwrap();
                });
            }
        });
        let mut kept: Vec<String> = load(&path)
            .unwrap()
            .credentials
            .into_iter()
            .map(|c| c.credential_id)
            .collect();
        kept.sort();
        assert_eq!(kept, ids);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let lock = path.with_file_name("token.json.lock");
            assert_eq!(
                std::fs::metadata(lock).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn a_missing_file_says_how_to_get_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&dir.path().join("token.json")).unwrap_err();
        assert!(matches!(err, FileError::Missing { .. }));
        assert!(
            err.to_string().contains("no token yet (")
                && err
                    .to_string()
                    .contains("mamori token provision --server URL"),
            "{err}"
        );
        assert_eq!(
            load_or_default(&dir.path().join("token.json")).unwrap(),
            TokenFile::default()
        );
    }

    #[test]
    fn a_corrupt_file_names_the_file_and_the_json_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        save(&path, &TokenFile::default()).unwrap();
        std::fs::write(&path, "{\"version\": 1, \"credentials\": [").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("EOF while parsing"), "{err}");

        let mut bad = sample("MAMO00000018");
        bad.secret = "not base32!".into();
        save(
            &path,
            &TokenFile {
                version: FILE_VERSION,
                credentials: vec![bad],
            },
        )
        .unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("MAMO00000018: secret"), "{err}");
        assert!(
            !err.contains("not base32!"),
            "the secret is never echoed: {err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        save(&path, &TokenFile::default()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(&path).unwrap_err();
        assert!(
            matches!(err, FileError::Exposed { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_secret_or_the_seed() {
        let credential = sample("MAMO00000018");
        let shown = format!("{credential:?}");
        assert!(!shown.contains(&credential.secret), "{shown}");
        assert!(
            !shown.contains(credential.device_key_seed.as_deref().unwrap()),
            "{shown}"
        );
    }
}
