//! Bytes to disk without the GIL.
//!
//! [`LineSink`] appends to one file (`deps.jsonl`). [`FileSink`] writes whole files
//! atomically (a temporary name renamed into place: a reader never sees half a capture), one
//! per request or task, on a thread of its own. Both belong to the process that made them: in
//! a forked child they ignore every call and are never joined or flushed (the thread does not
//! exist there, and a mutex may have been held by it at the fork); the child makes its own.

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use pyo3::prelude::*;

use crate::errors::{ErrorCode, RecorderError};

/// How long the capture thread sleeps when idle (it is woken for each capture).
const FLUSH: Duration = Duration::from_millis(100);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panic on the sink's thread (none is expected) must not stop every later write
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> PyResult<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map_err(|e| RecorderError::new(ErrorCode::Io, format!("cannot start {name}: {e}")).into())
}

// --- one file of lines ----------------------------------------------------------------

struct LineState {
    file: Option<File>,
    /// The first write error; later lines are dropped (and counted).
    error: Option<String>,
    dropped: u64,
}

/// `LineSink(path, first)`: creates `path` (truncating it) with `first` as its first bytes;
/// `write` appends at once, without the GIL (the deps writer thread hands it a batch of
/// lines, a forked child one line per call).
#[pyclass(module = "codetracer_python_recorder._native", frozen)]
pub struct LineSink {
    state: Mutex<LineState>,
    path: PathBuf,
    owner: u32,
}

#[pymethods]
impl LineSink {
    #[new]
    fn new(path: PathBuf, first: &[u8]) -> PyResult<Self> {
        let file = File::create(&path)
            .and_then(|mut f| f.write_all(first).map(|_| f))
            .map_err(|e| RecorderError::io("cannot create", &path, &e))?;
        Ok(LineSink {
            state: Mutex::new(LineState {
                file: Some(file),
                error: None,
                dropped: 0,
            }),
            path,
            owner: std::process::id(),
        })
    }

    fn write(&self, py: Python<'_>, data: &[u8]) {
        if std::process::id() != self.owner {
            return;
        }
        py.detach(|| {
            let mut st = lock(&self.state);
            if st.error.is_some() {
                st.dropped += 1;
                return;
            }
            let result = match st.file.as_mut() {
                Some(f) => f.write_all(data),
                None => {
                    st.dropped += 1;
                    return;
                }
            };
            if let Err(e) = result {
                st.error = Some(format!("cannot write {}: {e}", self.path.display()));
            }
        });
    }

    /// Writes `last` (the footer) and closes the file; idempotent. Raises
    /// `RecorderEnvironmentError` if any write failed, naming the file and how many writes
    /// were lost after the first failure.
    #[pyo3(signature = (last=None))]
    fn close(&self, py: Python<'_>, last: Option<&[u8]>) -> PyResult<()> {
        if std::process::id() != self.owner {
            return Ok(());
        }
        if let Some(last) = last {
            self.write(py, last);
        }
        let mut st = lock(&self.state);
        st.file = None;
        match &st.error {
            Some(message) => Err(RecorderError::new(
                ErrorCode::Io,
                format!("{message} ({} later writes lost)", st.dropped),
            )
            .with_context("path", self.path.display())
            .into()),
            None => Ok(()),
        }
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

// --- whole files, written atomically -------------------------------------------------

struct Job {
    dir: PathBuf,
    name: String,
    data: Vec<u8>,
}

#[derive(Default)]
struct FileState {
    jobs: VecDeque<Job>,
    /// Jobs taken by the thread and not written yet.
    writing: usize,
    closed: bool,
    errors: Vec<String>,
}

#[derive(Default)]
struct FileShared {
    state: Mutex<FileState>,
    wake: Condvar,
    idle: Condvar,
}

impl FileShared {
    fn run(&self) {
        let mut made: HashSet<PathBuf> = HashSet::new();
        loop {
            let (jobs, closed) = {
                let st = lock(&self.state);
                let (mut st, _) = self
                    .wake
                    .wait_timeout_while(st, FLUSH, |s| !s.closed && s.jobs.is_empty())
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let jobs: Vec<Job> = st.jobs.drain(..).collect();
                st.writing = jobs.len();
                (jobs, st.closed)
            };
            let mut errors = Vec::new();
            for job in jobs {
                if let Err(e) = write_atomically(&job, &mut made) {
                    errors.push(format!(
                        "cannot write {} in {}: {e}",
                        job.name,
                        job.dir.display()
                    ));
                }
            }
            let mut st = lock(&self.state);
            st.writing = 0;
            st.errors.extend(errors);
            if st.jobs.is_empty() {
                self.idle.notify_all();
            }
            if closed && st.jobs.is_empty() {
                return;
            }
        }
    }
}

/// A temporary file in the same directory, renamed into place (no fsync: a machine crash may
/// lose the newest captures, never show half of one). The directory is made once, or again
/// if it went away.
fn write_atomically(job: &Job, made: &mut HashSet<PathBuf>) -> std::io::Result<()> {
    if !made.contains(&job.dir) {
        fs::create_dir_all(&job.dir)?;
        made.insert(job.dir.clone());
    }
    let tmp = job
        .dir
        .join(format!(".{}.{}.tmp", job.name, std::process::id()));
    let open = |p: &Path| {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)
    };
    let mut f = match open(&tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(&job.dir)?;
            open(&tmp)?
        }
        other => other?,
    };
    let written = f.write_all(&job.data);
    drop(f);
    if let Err(e) = written.and_then(|_| fs::rename(&tmp, job.dir.join(&job.name))) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// `FileSink()`: `submit(dir, name, data)` queues one file, which the sink's thread writes at
/// once (with whatever else queued meanwhile). `flush()` waits until all are on disk.
#[pyclass(module = "codetracer_python_recorder._native", frozen)]
pub struct FileSink {
    shared: Arc<FileShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    owner: u32,
}

#[pymethods]
impl FileSink {
    #[new]
    fn new() -> PyResult<Self> {
        let shared = Arc::new(FileShared::default());
        let s = Arc::clone(&shared);
        let thread = spawn("codetracer-capture-writer", move || s.run())?;
        Ok(FileSink {
            shared,
            thread: Mutex::new(Some(thread)),
            owner: std::process::id(),
        })
    }

    fn submit(&self, dir: PathBuf, name: String, data: Vec<u8>) {
        if std::process::id() != self.owner {
            return;
        }
        let mut st = lock(&self.shared.state);
        st.jobs.push_back(Job { dir, name, data });
        if st.jobs.len() == 1 {
            // written now, not in a batch later: right after a response the app's core is
            // idle, while a batch every FLUSH would take the core of whoever runs then (the
            // client, on a small machine) for milliseconds at a time
            self.shared.wake.notify_one();
        }
    }

    /// Files queued or being written.
    fn pending(&self) -> usize {
        let st = lock(&self.shared.state);
        st.jobs.len() + st.writing
    }

    /// Waits (without the GIL) until every submitted file is written; returns the errors met
    /// since the last call, one line each.
    fn flush(&self, py: Python<'_>) -> Vec<String> {
        if std::process::id() != self.owner {
            return Vec::new();
        }
        py.detach(|| {
            let mut st = lock(&self.shared.state);
            self.shared.wake.notify_one();
            while (!st.jobs.is_empty() || st.writing > 0) && lock_alive(&self.thread) {
                st = self
                    .shared
                    .idle
                    .wait_timeout(st, FLUSH)
                    .map(|(st, _)| st)
                    .unwrap_or_else(|poisoned| poisoned.into_inner().0);
                self.shared.wake.notify_one();
            }
            std::mem::take(&mut st.errors)
        })
    }

    /// The errors met since the last call (no waiting).
    fn take_errors(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.shared.state).errors)
    }
}

fn lock_alive(thread: &Mutex<Option<JoinHandle<()>>>) -> bool {
    lock(thread).as_ref().is_some_and(|h| !h.is_finished())
}

impl Drop for FileSink {
    /// Writes what is queued and joins the thread; in a forked child the thread is not there,
    /// so its handle is let go without a join.
    fn drop(&mut self) {
        let handle = lock(&self.thread).take();
        if std::process::id() != self.owner {
            std::mem::forget(handle);
            return;
        }
        lock(&self.shared.state).closed = true;
        self.shared.wake.notify_one();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}
