//! Serving the router's connections with the limits a public endpoint needs, which
//! `axum::serve` does not set. A client that sends slowly or not at all (a slowloris holding
//! thousands of half-sent requests) can take neither the daemon's file descriptors nor its
//! memory, so the HTTP side never starves sending:
//!
//! - a request's headers must arrive within [`HEADER_TIMEOUT`];
//! - a connection on which no byte arrives for [`IDLE_TIMEOUT`] is closed (a keep-alive
//!   connection between requests, a body that stalls);
//! - a request body must arrive whole within [`BODY_TIMEOUT`];
//! - at most `[http] max_connections` connections are open at once (and never more than the
//!   file descriptors leave room for); at the cap, new ones wait in the kernel's queue until
//!   one closes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Time allowed for a request's headers, from its first byte.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no byte from the client for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for a whole request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// File descriptors kept for everything else the daemon opens (store, SMTP, IMAP, outbox).
const RESERVED_FDS: u64 = 512;
/// Time a stopping server gives open requests to finish.
const DRAIN: Duration = Duration::from_secs(5);

/// How many connections may be open at once: `wanted`, or fewer when the process may not
/// open that many files (after raising its soft limit to the hard one, as servers do).
pub fn connection_cap(wanted: usize) -> usize {
    let fds = raise_fd_limit();
    let room = fds.saturating_sub(RESERVED_FDS).max(16);
    wanted.min(usize::try_from(room).unwrap_or(usize::MAX))
}

/// Raises the soft limit on open files to the hard limit; returns the soft limit in force.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
    }
    limit.rlim_cur
}

/// Serves `app` on `listener` with at most `max_connections` open connections until `stop`
/// turns true, then lets open requests finish for a few seconds.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    let trimmer = tokio::spawn(give_memory_back(slots.clone(), max_connections));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = turned_true(&mut stop) => break,
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment instead of spinning.
                    tracing::warn!("HTTP: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = turned_true(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service =
                TowerToHyperService::new(app.map_request(|req: hyper::Request<Incoming>| {
                    req.map(|body| Body::new(DeadlineBody::new(body, BODY_TIMEOUT)))
                }));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let io = TokioIo::new(IdleStream::new(stream, IDLE_TIMEOUT));
            let conn = builder.serve_connection(io, service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!("HTTP connection ended: {e}");
                    }
                    return;
                }
                () = turned_true(&mut closing) => conn.as_mut().graceful_shutdown(),
            }
            let _ = tokio::time::timeout(DRAIN, conn).await;
        });
    }
    drop(listener);
    trimmer.abort();
    let _ = closing_tx.send(true);
    // Every connection gives its slot back when it ends.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN + Duration::from_secs(1), slots.acquire_many(all)).await;
}

/// After a burst of connections (a flood, a slowloris) has closed, hands the memory their
/// buffers took back to the system: glibc keeps freed memory in its arenas otherwise, and the
/// daemon would stay at its peak size for good.
async fn give_memory_back(slots: Arc<Semaphore>, max_connections: usize) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    let mut peak = 0;
    loop {
        every.tick().await;
        let open = max_connections - slots.available_permits();
        peak = peak.max(open);
        if peak >= open + 256 {
            #[cfg(target_env = "gnu")]
            // SAFETY: malloc_trim only releases free memory at the top of glibc's heaps.
            unsafe {
                libc::malloc_trim(0);
            }
            peak = open;
        }
    }
}

/// Waits until the flag turns true (or its sender is gone).
async fn turned_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

/// A client's TCP stream that fails a read once no byte has arrived for `idle`.
struct IdleStream {
    inner: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl IdleStream {
    fn new(inner: TcpStream, idle: Duration) -> IdleStream {
        IdleStream {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl AsyncRead for IdleStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client sent nothing for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for IdleStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that must arrive whole before its deadline.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, within: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(within)),
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(r) => Poll::Ready(r.map(|f| f.map_err(Into::into))),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                    "the request body did not arrive within {}s",
                    BODY_TIMEOUT.as_secs()
                )
                .into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
