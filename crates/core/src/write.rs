//! Atomic file writes: a temporary file in the same folder, then a rename, so an interrupted
//! run never leaves a half-written export.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically. The error ([`Error::Write`]) names the path.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let fail = |e: &dyn std::fmt::Display| Error::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    if path.is_dir() {
        return Err(fail(&"it is a directory"));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".edgebench-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    tmp.write_all(contents).map_err(|e| fail(&e))?;
    // tempfile creates files readable by their owner only; results are for sharing.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o644);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| fail(&e))?;
    }
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "exports are readable by others");
        }
    }

    #[test]
    fn missing_folder_is_an_error_naming_the_path() {
        let e = write_atomic(Path::new("/nonexistent-dir-xyz/out.csv"), b"x").unwrap_err();
        assert!(matches!(e, Error::Write { .. }), "{e:?}");
        assert!(
            e.to_string().contains("/nonexistent-dir-xyz/out.csv"),
            "{e}"
        );
    }
}
