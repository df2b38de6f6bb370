//! Where the HS256 secret comes from: the environment variable the IR names, else a per-project
//! dev secret in `<project>/.ward/dev-secret`. Shared with `ward token`, so minted tokens verify.

use std::path::{Path, PathBuf};

use ward_ir::{Ir, JwtKey};

use crate::StartError;

/// Where the verification key was read from (for the start banner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// HS256 secret from this environment variable.
    Env(String),
    /// HS256 dev secret from this file (not for production).
    DevFile(PathBuf),
    /// A PEM public key or JWKS file.
    KeyFile(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(v) => write!(f, "HS256 secret from ${v}"),
            SecretSource::DevFile(p) => write!(
                f,
                "HS256 dev secret from {} (development only)",
                p.display()
            ),
            SecretSource::KeyFile(p) => write!(f, "public key from {}", p.display()),
        }
    }
}

/// The shortest HS256 secret accepted: RFC 7518 §3.2 requires a key of at least the hash size
/// (256 bits) for HS256, and a shorter one (or an empty one) makes tokens forgeable.
pub const MIN_SECRET_BYTES: usize = 32;

/// The HS256 secret the project is served with.
pub fn hs256_secret(
    ir: &Ir,
    project_dir: &Path,
    require: bool,
) -> Result<(Vec<u8>, SecretSource), StartError> {
    let JwtKey::Secret { env } = &ir.auth.jwt.key else {
        return Err(StartError::NotHs256);
    };
    if let Ok(v) = std::env::var(env)
        && !v.is_empty()
    {
        if v.len() < MIN_SECRET_BYTES {
            return Err(StartError::WeakSecret {
                env: env.clone(),
                len: v.len(),
            });
        }
        return Ok((v.into_bytes(), SecretSource::Env(env.clone())));
    }
    if require {
        return Err(StartError::MissingSecret { env: env.clone() });
    }
    let path = project_dir.join(".ward").join("dev-secret");
    Ok((dev_secret(&path)?, SecretSource::DevFile(path)))
}

/// Reads the dev secret at `path`, creating it first if it does not exist.
fn dev_secret(path: &Path) -> Result<Vec<u8>, StartError> {
    match read_dev_secret(path) {
        Err(DevRead::Missing) => {}
        other => return other.map_err(|e| e.into_start_error(path)),
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    match create_atomically(path, &secret) {
        Ok(()) => Ok(secret.into_bytes()),
        // Another process (`ward token` beside `ward serve`) linked its file first: use theirs.
        // It was complete before it was linked, so reading it now never sees a partial file.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_dev_secret(path).map_err(|e| e.into_start_error(path))
        }
        Err(e) => Err(StartError::Io(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
    }
}

enum DevRead {
    Missing,
    Short,
    Io(std::io::Error),
}

impl DevRead {
    fn into_start_error(self, path: &Path) -> StartError {
        match self {
            DevRead::Short => StartError::WeakDevSecret {
                path: path.to_path_buf(),
            },
            DevRead::Missing => StartError::Io(format!("{} disappeared", path.display())),
            DevRead::Io(e) => StartError::Io(format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// The trimmed dev secret; one shorter than [`MIN_SECRET_BYTES`] (an empty or truncated file) is
/// refused rather than used as a key anyone could guess.
fn read_dev_secret(path: &Path) -> Result<Vec<u8>, DevRead> {
    match std::fs::read_to_string(path) {
        Ok(s) if s.trim().len() >= MIN_SECRET_BYTES => Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => Err(DevRead::Short),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DevRead::Missing),
        Err(e) => Err(DevRead::Io(e)),
    }
}

/// Creates `path` with `contents`, readable by its owner only, so that no reader ever sees it
/// partially written: the contents go to a private temporary file in the same directory, which is
/// synced and then hard-linked into place. Linking fails with `AlreadyExists` rather than replace
/// a file another process created first.
fn create_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the secret path has no directory"))?;
    create_private_dir(dir)?;
    let tmp = dir.join(format!(".dev-secret.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = write_private(&tmp, contents).and_then(|()| std::fs::hard_link(&tmp, path));
    // The temporary name is unique to this call; failing to remove it loses nothing.
    let _ = std::fs::remove_file(&tmp);
    written
}

/// Creates `dir` (and its parents), private to its owner on unix: `.ward/` holds the dev secret
/// and the database. A directory that already exists is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path` readable by its owner only, writes and syncs `contents`; fails with
/// `AlreadyExists` rather than overwrite.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    std::io::Write::write_all(&mut f, contents.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_empty_or_short_dev_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".ward").join("dev-secret");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        for contents in ["", "  \n", "short"] {
            std::fs::write(&path, contents).unwrap();
            let err = dev_secret(&path).unwrap_err();
            assert!(
                matches!(err, StartError::WeakDevSecret { .. }),
                "{contents:?}: {err}"
            );
            assert!(err.to_string().contains("delete"), "{err}");
        }
    }

    #[test]
    fn the_dev_secret_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".ward").join("dev-secret");
        let first = dev_secret(&path).unwrap();
        assert!(first.len() >= MIN_SECRET_BYTES);
        assert_eq!(dev_secret(&path).unwrap(), first, "read back, not replaced");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["dev-secret"], "the temporary file is removed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
    }

    #[test]
    fn concurrent_creators_agree_on_one_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".ward").join("dev-secret");
        let secrets: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| dev_secret(&path))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(secrets.iter().all(|s| s == &secrets[0]));
    }
}
