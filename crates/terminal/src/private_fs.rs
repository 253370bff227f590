//! Private from the start (security review M5, issue 10 item 8): the data directory is created
//! 0700 and the SQLite files in it 0600 *before* anything is written, so there is no moment in
//! which another local user can read them and no chmod race afterwards.
//!
//! SQLite creates its `-wal` and `-shm` files with the mode of the database file, so a database
//! file made here with 0600 keeps its companions private too. Both front ends and the embedded
//! stack call these; the desktop calls [`private_dir`] for its data directory. Deliberately
//! absent: the small JSON files (`files.rs` writes those private), and any change of the process
//! umask (it would reach every file the process writes, exports included).

use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) with mode 0700, or tightens an existing one to 0700 when
/// others may read or enter it (an older installation made it with the umask's 0755).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let meta = std::fs::metadata(dir)?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Makes sure `file` exists as a regular file readable by its owner only, before SQLite opens it:
/// a missing file is created empty with mode 0600 (`create_new`, so a planted symlink makes this
/// fail instead of being followed); an existing one that others may read is tightened to 0600,
/// with its `-wal` and `-shm` files. A symlink or anything but a regular file is refused.
pub fn private_file(file: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(file) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            match options.open(file) {
                Ok(_) => Ok(()),
                // Another process made it in between: check what it made.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => private_file(file),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
        Ok(meta) if !meta.file_type().is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file (a symbolic link or a directory): remove it or choose \
                 another path",
                file.display()
            ),
        )),
        Ok(_meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                for path in [
                    file.to_path_buf(),
                    sibling(file, "-wal"),
                    sibling(file, "-shm"),
                ] {
                    let Ok(meta) = std::fs::symlink_metadata(&path) else {
                        continue;
                    };
                    if meta.file_type().is_file() && meta.permissions().mode() & 0o077 != 0 {
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(unix)]
fn sibling(file: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(suffix);
    name.into()
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_are_private_from_the_start_and_old_ones_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        let db = dir.join("journal.sqlite");
        private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);

        // An older installation's world-readable directory, database and WAL.
        let old = root.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        let old_db = old.join("central.sqlite");
        std::fs::write(&old_db, b"data").unwrap();
        std::fs::write(old.join("central.sqlite-wal"), b"wal").unwrap();
        for f in [&old_db, &old.join("central.sqlite-wal")] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        private_dir(&old).unwrap();
        private_file(&old_db).unwrap();
        assert_eq!(mode(&old), 0o700);
        assert_eq!(mode(&old_db), 0o600);
        assert_eq!(mode(&old.join("central.sqlite-wal")), 0o600);
        assert_eq!(std::fs::read(&old_db).unwrap(), b"data", "content kept");
    }

    #[test]
    fn a_planted_symlink_is_refused_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("elsewhere");
        std::fs::write(&target, b"x").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = root.path().join("journal.sqlite");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = private_file(&link).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(mode(&target), 0o644, "the target was not touched");
        // A dangling one too.
        let dangling = root.path().join("central.sqlite");
        std::os::unix::fs::symlink(root.path().join("missing"), &dangling).unwrap();
        assert!(private_file(&dangling).is_err());
        assert!(!root.path().join("missing").exists());
    }
}
