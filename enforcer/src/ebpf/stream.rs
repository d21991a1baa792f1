//! A run's event stream: the records of its ring buffer, decoded, handed to
//! a sink (a JSON lines file for `--events`) on a thread of its own while the
//! run runs.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use aya::maps::{MapData, RingBuf};

use super::error::EbpfError;
use super::event::{self, Event};

/// How long the event writer waits for the ring before it looks again:
/// routine events (allowed opens and connects) do not wake it, so they reach
/// the file within this time; refusals wake it at once.
pub const STREAM_POLL: Duration = Duration::from_millis(100);

/// The run's events, read from the ring buffer.
pub struct EventStream {
    pub(crate) ring: RingBuf<MapData>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    /// The next event already in the ring, if any (does not block).
    pub fn try_next(&mut self) -> Option<Event> {
        loop {
            let item = self.ring.next()?;
            if let Some(event) = event::decode(&item) {
                return Some(event);
            }
        }
    }

    /// Every event already in the ring (does not block).
    pub fn drain(&mut self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(move || self.try_next())
    }

    /// Waits up to `timeout` for the next event.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.try_next() {
                return Some(event);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            let mut fd = libc::pollfd {
                fd: self.ring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut fd, 1, ms) };
            if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return None;
            }
        }
    }
}

/// Where a run's events go while it runs ([`EventStream::read_into`]).
pub trait EventSink: Send + 'static {
    /// Takes one event.
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
    /// Called after each batch of events: make them durable.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes events as JSON lines (`--events FILE`), flushed after each batch.
pub struct JsonLines<W: std::io::Write>(std::io::BufWriter<W>);

impl<W: std::io::Write> JsonLines<W> {
    /// JSON lines to `out`.
    pub fn new(out: W) -> Self {
        Self(std::io::BufWriter::new(out))
    }
}

impl<W: std::io::Write + Send + 'static> EventSink for JsonLines<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, event).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut self.0, b"\n")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut self.0)
    }
}

/// Both sinks get every event.
impl<A: EventSink, B: EventSink> EventSink for (A, B) {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.event(event)?;
        self.1.event(event)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

/// A sink that may be absent.
impl<A: EventSink> EventSink for Option<A> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        match self {
            Some(s) => s.event(event),
            None => Ok(()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Some(s) => s.flush(),
            None => Ok(()),
        }
    }
}

impl EventStream {
    /// Gives every event to `sink` on a thread of its own while the run
    /// runs, flushing after each batch, until [`EventReader::finish`]. A
    /// refusal wakes the thread at once; routine events reach the sink
    /// within [`STREAM_POLL`].
    pub fn read_into<S: EventSink>(mut self, mut sink: S) -> EventReader<S> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut written = 0u64;
            loop {
                // Read the flag before draining, so nothing submitted before
                // `finish` is left behind.
                let stopping = flag.load(std::sync::atomic::Ordering::Acquire);
                let before = written;
                // Once stopping, take what is in the ring without waiting.
                if !stopping && let Some(event) = self.next_timeout(STREAM_POLL) {
                    sink.event(&event)?;
                    written += 1;
                }
                for event in self.drain() {
                    sink.event(&event)?;
                    written += 1;
                }
                // Streamed, not kept until the end: what was read from the
                // ring is handed on (for a file: written to the kernel)
                // before the next poll, so a crash of the command, or of this
                // process, loses nothing already observed.
                if written != before || stopping {
                    sink.flush()?;
                }
                if stopping {
                    return Ok((written, sink));
                }
            }
        });
        EventReader { stop, thread }
    }

    /// Writes every event as one JSON line to `out` ([`EventStream::read_into`]
    /// with [`JsonLines`]; `warden exec --events FILE`).
    pub fn write_json_lines(self, out: impl std::io::Write + Send + 'static) -> EventWriter {
        EventWriter(self.read_into(JsonLines::new(
            Box::new(out) as Box<dyn std::io::Write + Send>
        )))
    }
}

/// A thread handing a run's events to a sink.
pub struct EventReader<S> {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<std::io::Result<(u64, S)>>,
}

impl<S> EventReader<S> {
    /// Hands on what is still in the ring, stops, and returns how many
    /// events were read, and the sink.
    pub fn finish(self) -> Result<(u64, S), EbpfError> {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let io = |source| EbpfError::Io {
            what: "handing on the events",
            path: PathBuf::from("--events"),
            source,
        };
        match self.thread.join() {
            Ok(result) => result.map_err(io),
            Err(_) => Err(io(std::io::Error::other("the event reader panicked"))),
        }
    }
}

/// A thread writing a run's events as JSON lines.
pub struct EventWriter(EventReader<JsonLines<Box<dyn std::io::Write + Send>>>);

impl<S> std::fmt::Debug for EventReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter").finish_non_exhaustive()
    }
}

impl EventWriter {
    /// Writes what is still in the ring, stops, and returns how many events
    /// were written.
    pub fn finish(self) -> Result<u64, EbpfError> {
        self.0.finish().map(|(n, _)| n)
    }
}

impl Iterator for EventStream {
    type Item = Event;

    /// Blocks until the next event arrives.
    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.next_timeout(Duration::from_secs(3600)) {
                return Some(event);
            }
        }
    }
}
