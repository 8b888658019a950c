//! Container logs in the CRI format the monitor writes: one line per chunk,
//! `<RFC3339Nano> stdout|stderr F|P <text>`, `P` marking a line continued by the next.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::ContainerError;
use super::bundle::io_err;

/// The stream a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    /// The container's stdout.
    Stdout,
    /// The container's stderr.
    Stderr,
}

/// One line of a CRI log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The monitor's timestamp, RFC 3339 with nanoseconds, as written.
    pub timestamp: String,
    /// stdout or stderr.
    pub stream: LogStream,
    /// `true` for `P`: the text continues in the next line of the same stream.
    pub partial: bool,
    /// The text, without the trailing newline.
    pub text: String,
}

impl LogLine {
    /// Parses one line (without its newline); `None` when it is not in the CRI format.
    pub fn parse(line: &str) -> Option<Self> {
        let mut parts = line.splitn(4, ' ');
        let timestamp = parts.next()?.to_string();
        let stream = match parts.next()? {
            "stdout" => LogStream::Stdout,
            "stderr" => LogStream::Stderr,
            _ => return None,
        };
        let partial = match parts.next()? {
            "F" => false,
            "P" => true,
            _ => return None,
        };
        let text = parts.next().unwrap_or("").to_string();
        Some(Self {
            timestamp,
            stream,
            partial,
            text,
        })
    }
}

/// Every complete line of a CRI log file; lines not in the CRI format are skipped.
pub fn read_log(path: &Path) -> Result<Vec<LogLine>, ContainerError> {
    let mut reader = LogReader::new(path);
    reader.read_new()
}

/// Reads a CRI log file incrementally: each call returns the lines appended since the last.
#[derive(Debug)]
pub struct LogReader {
    path: PathBuf,
    offset: u64,
    pending: Vec<u8>,
}

impl LogReader {
    /// A reader at the start of the file at `path` (which may not exist yet).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: 0,
            pending: Vec::new(),
        }
    }

    /// The complete lines written since the previous call; an incomplete last line waits
    /// for its newline. A missing file reads as empty.
    pub fn read_new(&mut self) -> Result<Vec<LogLine>, ContainerError> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io_err("open log", &self.path, source)),
        };
        let len = file
            .metadata()
            .map_err(|source| io_err("stat log", &self.path, source))?
            .len();
        if len < self.offset {
            // Truncated or replaced: start over.
            self.offset = 0;
            self.pending.clear();
        }
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|source| io_err("seek log", &self.path, source))?;
        let read = file
            .read_to_end(&mut self.pending)
            .map_err(|source| io_err("read log", &self.path, source))?;
        self.offset += read as u64;

        let complete = match self.pending.iter().rposition(|b| *b == b'\n') {
            Some(last) => self.pending.drain(..=last).collect::<Vec<u8>>(),
            None => return Ok(Vec::new()),
        };
        Ok(String::from_utf8_lossy(&complete)
            .lines()
            .filter_map(LogLine::parse)
            .collect())
    }

    /// Calls `on_line` for every line already written and every new one, polling every
    /// `interval`, until `done` returns true (checked between polls, after a final read) or
    /// `timeout` elapses.
    pub fn follow(
        &mut self,
        interval: Duration,
        timeout: Duration,
        mut done: impl FnMut() -> bool,
        mut on_line: impl FnMut(LogLine),
    ) -> Result<(), ContainerError> {
        let deadline = Instant::now() + timeout;
        loop {
            let finished = done();
            self.read_new()?.into_iter().for_each(&mut on_line);
            if finished || Instant::now() >= deadline {
                return Ok(());
            }
            std::thread::sleep(interval);
        }
    }
}

/// Joins partial lines: the full messages of one stream, in order.
pub fn messages(lines: &[LogLine], stream: LogStream) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in lines.iter().filter(|l| l.stream == stream) {
        current.push_str(&line.text);
        if !line.partial {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_lines_parse_and_partial_lines_join() {
        let lines: Vec<LogLine> = [
            "2026-01-01T00:00:00.000000001Z stdout P hel",
            "2026-01-01T00:00:00.000000002Z stderr F oops",
            "2026-01-01T00:00:00.000000003Z stdout F lo world",
            "not a log line",
        ]
        .iter()
        .filter_map(|l| LogLine::parse(l))
        .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(messages(&lines, LogStream::Stdout), vec!["hello world"]);
        assert_eq!(messages(&lines, LogStream::Stderr), vec!["oops"]);
    }

    #[test]
    fn reader_returns_only_new_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut reader = LogReader::new(&path);
        assert!(reader.read_new().unwrap().is_empty());
        std::fs::write(&path, "t stdout F one\nt stdout F tw").unwrap();
        assert_eq!(reader.read_new().unwrap().len(), 1);
        std::fs::write(&path, "t stdout F one\nt stdout F two\n").unwrap();
        let lines = reader.read_new().unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "two");
    }
}
