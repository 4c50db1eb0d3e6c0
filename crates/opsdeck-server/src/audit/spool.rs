//! The audit spool file (SPEC §8): where the audit writer puts records it cannot append
//! because opsdeck's database is unreachable, each line chained to the one before
//! ([`opsdeck_core::audit::spool`]) and fsynced before the writer moves on. When the database
//! answers again the writer appends the spooled records first, in order, then empties the
//! file; a process that stops during an outage replays the file when it starts again.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use opsdeck_core::audit::AuditRecord;
use opsdeck_core::audit::spool::{self, SpoolHead};

/// See the module documentation.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    head: SpoolHead,
    /// Records in the file, waiting for the database.
    pending: usize,
}

impl Spool {
    /// The spool at `path`, with whatever an earlier process left there. A torn last line
    /// (a write cut short) is cut off; a file whose lines do not chain is an error: the
    /// operator must look at it before anything from it reaches the log.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut spool = Self {
            path: path.to_owned(),
            head: SpoolHead::default(),
            pending: 0,
        };
        let mut text = String::new();
        match File::open(path) {
            Ok(mut file) => {
                file.read_to_string(&mut text)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(spool),
            Err(e) => return Err(e.into()),
        }
        let (records, head) = spool::decode(&text).map_err(|e| {
            anyhow::anyhow!(
                "{e}: {} cannot be replayed into the audit log; move it aside after reading it, \
                 then start opsdeck again",
                path.display()
            )
        })?;
        let complete = text.rfind('\n').map_or(0, |end| end + 1);
        if complete < text.len() {
            let file = OpenOptions::new().write(true).open(path)?;
            file.set_len(complete as u64)?;
            file.sync_all()?;
        }
        spool.head = head;
        spool.pending = records.len();
        Ok(spool)
    }

    /// Records waiting in the file.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Appends `records` and waits until they are on disk.
    pub fn append(&mut self, records: &[AuditRecord]) -> std::io::Result<()> {
        let mut head = self.head.clone();
        let text = spool::encode(&mut head, records);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        if self.pending == 0 {
            sync_directory(&self.path);
        }
        self.head = head;
        self.pending += records.len();
        Ok(())
    }

    /// Every record in the file, in order.
    pub fn records(&self) -> anyhow::Result<Vec<AuditRecord>> {
        let mut text = String::new();
        match File::open(&self.path) {
            Ok(mut file) => {
                file.seek(SeekFrom::Start(0))?;
                file.read_to_string(&mut text)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
        let (records, _) = spool::decode(&text)?;
        Ok(records)
    }

    /// Replaces the file's records with `records` (what is left after a partial replay),
    /// atomically: a new file is written and synced, then renamed over the old one.
    pub fn replace(&mut self, records: &[AuditRecord]) -> std::io::Result<()> {
        let mut head = SpoolHead::default();
        let text = spool::encode(&mut head, records);
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".new");
        let temporary = PathBuf::from(temporary);
        let mut file = File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, &self.path)?;
        sync_directory(&self.path);
        self.head = head;
        self.pending = records.len();
        Ok(())
    }

    /// Empties the file once its records are in the log.
    pub fn clear(&mut self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => sync_directory(&self.path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.head = SpoolHead::default();
        self.pending = 0;
        Ok(())
    }
}

/// Makes the file's creation or removal durable (best effort: not every filesystem allows
/// opening a directory).
fn sync_directory(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}
